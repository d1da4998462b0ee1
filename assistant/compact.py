"""Decode faster on the CPU by reading weights in the compact form they were published in.

The bundled model is a GGUF file: its linear layers are Q4_1 (32-weight blocks, each weight
`d * q + m` with a 4-bit `q` and float16 `d`, `m`) and its tied output layer is Q8_0
(`d * q`, 8-bit `q`). Dequantized to float32 they take 4 bytes a weight, and decoding one
token on a CPU is mostly the time spent reading them from memory. `compact_model` finds the
linear layers whose float32 weights are exactly such blocks, keeps the 4- or 8-bit codes,
and computes short inputs (decode steps, prompt-lookup drafts) with a small AVX2 kernel
that rebuilds every weight bit for bit before multiplying in float32. Long inputs (the
prompt) still go through the dense weights, so prefill is unchanged.

A decode step is short, so once the weights are compact, Python's op-by-op dispatch and the
attention over the KV cache take most of it. For short batch-1 inputs over the growing KV
cache, each decoder layer therefore runs as one kernel call (`CompactDecoderLayer`: the same
norm, rotary and activation ops as transformers, issued from C++), and attention reads the
cache in the kernel (`decode_attention`). The kernel splits its work over its own helper
threads, one per torch thread the process had when the model loaded.

The kernel (kernels/compact_linear.cpp, ops `torch.ops.deskmate.*`) is compiled once with
torch's C++ extension builder (about 15 s, cached under $TORCH_EXTENSIONS_DIR, by default
~/.cache/torch_extensions); without a compiler or AVX2 the model is left as it is.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

log = logging.getLogger(__name__)

BLOCK = 32
MAX_ROWS = 16  # inputs with more rows than this (prompts) use the dense weights
SOURCE = Path(__file__).with_name("kernels") / "compact_linear.cpp"

_kernels = None


def load_kernels() -> bool:
    """Build and load the kernel once; False when this machine cannot build or run it."""
    global _kernels
    if _kernels is None:
        _kernels = _build()
    return _kernels


def _build() -> bool:
    if torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"):
        log.info("Compact decoding needs a CPU with AVX2; using the dense weights.")
        return False
    try:
        from torch.utils.cpp_extension import load

        log.info("Building the compact decoding kernel (once per machine)")
        load(
            name="deskmate_compact_linear",
            sources=[str(SOURCE)],
            extra_cflags=["-O3", "-mavx2", "-mfma", "-pthread"],
            extra_ldflags=["-pthread"],
            is_python_module=False,
        )
        return True
    except Exception as exc:  # no compiler or ninja: decoding still works, only slower
        log.warning("Could not build the compact decoding kernel (%s); using the dense weights.", exc)
        return False


def _fp16_candidates(estimate: torch.Tensor) -> list[torch.Tensor]:
    """`estimate` rounded to float16, and its two float16 neighbours."""
    bits = estimate.half().view(torch.int16)
    return [(bits + step).view(torch.float16).float() for step in (0, 1, -1)]


def _fit(w: torch.Tensor, scales: list[torch.Tensor], offset: torch.Tensor | None, low: int, high: int):
    """Per-block codes and scale with `q * d (+ m) == w` exactly, trying the candidate scales in turn."""
    best_q = torch.zeros(w.shape, dtype=torch.int16)
    best_d = torch.zeros(w.shape[:-1])
    done = torch.zeros(w.shape[:-1], dtype=torch.bool)
    base = w if offset is None else w - offset[..., None]
    for d in scales:
        safe = torch.where(d == 0, torch.ones_like(d), d)
        q = torch.round(base / safe[..., None]).clamp(low, high)
        rebuilt = q * d[..., None] if offset is None else q * d[..., None] + offset[..., None]
        exact = (rebuilt == w).all(-1) & ~done
        best_q[exact] = q[exact].to(torch.int16)
        best_d[exact] = d[exact]
        done |= exact
    return (best_q, best_d) if bool(done.all()) else None


def split_q4_1(weight: torch.Tensor):
    """`(packed codes uint8 [N, K/2], d [N, K/32], m [N, K/32])` when `weight` is exactly Q4_1, else None."""
    n, k = weight.shape
    if k % BLOCK or weight.dtype != torch.float32:
        return None
    w = weight.detach().reshape(n, k // BLOCK, BLOCK)
    m = w.amin(-1)
    if not torch.equal(m.half().float(), m):
        return None
    fit = _fit(w, _fp16_candidates((w.amax(-1) - m) / 15), m, 0, 15)
    if fit is None:
        return None
    q, d = fit
    q = q.to(torch.uint8)
    packed = (q[..., :16] | (q[..., 16:] << 4)).reshape(n, k // 2).contiguous()
    return packed, d.contiguous(), m.contiguous()


def split_q8_0(weight: torch.Tensor):
    """`(codes int8 [N, K], d [N, K/32])` when `weight` is exactly Q8_0, else None."""
    n, k = weight.shape
    if k % BLOCK or weight.dtype != torch.float32:
        return None
    w = weight.detach().reshape(n, k // BLOCK, BLOCK)
    fit = _fit(w, _fp16_candidates(w.abs().amax(-1) / 127), None, -127, 127)
    if fit is None:
        return None
    q, d = fit
    return q.to(torch.int8).reshape(n, k).contiguous(), d.contiguous()


class CompactLinear(torch.nn.Module):
    """A linear layer computed from its compact codes for short inputs, from `dense` otherwise.

    With `lora` (`(A, B, scaling)` of a LoRA adapter), long inputs use a dense copy with the
    update merged in, as a merged model would, and short ones add the low-rank update to the
    kernel's product, so the adapter never spoils the compact codes.
    """

    def __init__(self, dense: torch.nn.Linear, codes: tuple, lora: tuple | None = None):
        super().__init__()
        self.kind = "q4_1" if len(codes) == 3 else "q8_0"
        for name, tensor in zip(("codes", "d", "m"), codes):
            self.register_buffer(name, tensor, persistent=False)
        self.lora_down = self.lora_up = None
        if lora is not None:
            a, b, scaling = lora
            merged = torch.nn.Linear(dense.in_features, dense.out_features, bias=dense.bias is not None)
            merged.weight.data = dense.weight.detach() + scaling * (b @ a)
            if dense.bias is not None:
                merged.bias.data = dense.bias.detach()
            dense = merged
            self.lora_down, self.lora_up = a.T.contiguous(), (b * scaling).T.contiguous()
        self.dense = dense
        self.threads = torch.get_num_threads()  # the kernel's own helper threads, not OpenMP's

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // x.shape[-1]
        if rows > MAX_ROWS or x.dtype != torch.float32 or x.device.type != "cpu" or torch.is_grad_enabled():
            return self.dense(x)
        flat = x.reshape(rows, x.shape[-1]).contiguous()
        if self.kind == "q4_1":
            y = torch.ops.deskmate.q41_linear(flat, self.codes, self.d, self.m, self.threads)
        else:
            y = torch.ops.deskmate.q80_linear(flat, self.codes, self.d, self.threads)
        if self.lora_down is not None:
            y = torch.addmm(y, flat @ self.lora_down, self.lora_up)
        if self.dense.bias is not None:
            y = y + self.dense.bias
        return y.reshape(*x.shape[:-1], y.shape[-1])


def _lora_parts(module) -> tuple | None:
    """`(A, B, scaling)` of a peft LoRA layer with one active adapter, else None."""
    names = getattr(module, "active_adapters", None)
    if not names or len(names) != 1 or names[0] not in getattr(module, "lora_A", {}):
        return None
    name = names[0]
    if getattr(module, "use_dora", {}).get(name):
        return None
    return module.lora_A[name].weight.detach(), module.lora_B[name].weight.detach(), module.scaling[name]


ATTENTION = "deskmate_decode"


def decode_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    """transformers attention for `ATTENTION`: short batch-1 queries over the KV cache (decode
    steps, prompt-lookup drafts) in the kernel on its own threads, anything else with SDPA.

    The kernel applies the causal mask of a cache that holds exactly the keys so far (a batch
    of one, growing cache); a mask whose last query row cannot see the last key (a static
    cache's empty slots), or no mask where SDPA's own causal mask would differ, goes to SDPA."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if (query.shape[0] == 1 and query.shape[2] <= MAX_ROWS and query.dtype == torch.float32
            and query.device.type == "cpu" and not torch.is_grad_enabled() and not dropout
            and kwargs.get("sliding_window") is None and scaling is not None
            and ((attention_mask is None and (query.shape[2] == 1 or key.shape[2] == query.shape[2]))
                 or (attention_mask is not None and attention_mask.dtype == torch.bool and attention_mask.dim() == 4
                                            and attention_mask.shape[-1] == key.shape[2]
                                            and bool(attention_mask[0, 0, -1, -1])))):
        return torch.ops.deskmate.decode_attention(query, key, value, scaling, module.decode_threads), None
    return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)


def use_decode_attention(model: torch.nn.Module) -> None:
    """Switch a model whose attention is SDPA to `decode_attention` (same masks as SDPA)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    if hasattr(model, "get_base_model"):
        model = model.get_base_model()  # a peft model: the transformers model inside
    config = getattr(model, "config", None)
    if getattr(config, "_attn_implementation", None) != "sdpa" or not hasattr(model, "set_attn_implementation"):
        return
    AttentionInterface.register(ATTENTION, decode_attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)
    threads = torch.get_num_threads()
    for module in model.modules():
        if hasattr(module, "num_key_value_groups"):
            module.decode_threads = threads
    model.set_attn_implementation(ATTENTION)


PROJECTIONS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
               "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


class CompactDecoderLayer(torch.nn.Module):
    """A Llama-style decoder layer whose short batch-1 steps over a growing KV cache run as one
    kernel call (the same ops transformers runs one by one from Python, without the Python);
    anything else goes to the wrapped layer."""

    def __init__(self, layer: torch.nn.Module, threads: int):
        super().__init__()
        self.layer = layer
        self.threads = threads
        self.projections = [layer.get_submodule(name) for name in PROJECTIONS]
        empty = torch.empty(0)
        self.parts = [list(part) for part in zip(*(
            (p.codes, p.d, p.m if p.kind == "q4_1" else empty,
             empty if p.lora_down is None else p.lora_down.T.contiguous(),
             empty if p.lora_up is None else p.lora_up.T.contiguous())
            for p in self.projections))]
        attention = layer.self_attn
        self.heads = layer.self_attn.config.num_attention_heads
        self.kv_heads = layer.self_attn.config.num_key_value_heads
        self.scale, self.layer_idx = attention.scaling, attention.layer_idx

    @staticmethod
    def fits(layer: torch.nn.Module) -> bool:
        try:
            parts = [layer.get_submodule(name) for name in PROJECTIONS]
            norms = layer.input_layernorm, layer.post_attention_layernorm
            config = layer.self_attn.config
        except AttributeError:
            return False
        return (all(isinstance(p, CompactLinear) and p.dense.bias is None for p in parts)
                and all(type(n).__name__.endswith("RMSNorm") for n in norms)
                and getattr(config, "hidden_act", "") == "silu" and not getattr(config, "attention_bias", False))

    def forward(self, hidden_states, *args, position_embeddings=None, **kwargs):
        rows = hidden_states.shape[1] if hidden_states.dim() == 3 else MAX_ROWS + 1
        # transformers passes the cache as `cache` since 5.x's rename, as `past_key_values` before it.
        cache = kwargs.get("cache") if kwargs.get("cache") is not None else kwargs.get("past_key_values")
        cache = getattr(cache, "layers", None)
        cache = cache[self.layer_idx] if cache is not None and self.layer_idx < len(cache) else None
        if (hidden_states.shape[0] != 1 or rows > MAX_ROWS or hidden_states.dtype != torch.float32
                or hidden_states.device.type != "cpu" or torch.is_grad_enabled() or position_embeddings is None
                or getattr(cache, "room", None) is None):
            return self.layer(hidden_states, *args, position_embeddings=position_embeddings, **kwargs)
        keys, values, start = cache.reserve(rows)
        cos, sin = position_embeddings
        layer = self.layer
        codes, d, m, lora_a, lora_b = self.parts
        out = torch.ops.deskmate.decode_layer(
            hidden_states[0].contiguous(), layer.input_layernorm.weight, layer.post_attention_layernorm.weight,
            layer.input_layernorm.variance_epsilon, codes, d, m, lora_a, lora_b, cos[0], sin[0], keys, values, start,
            self.heads, self.kv_heads, self.scale, self.threads)
        cache.advance(start + rows)
        return out.unsqueeze(0)


def compact_layers(model: torch.nn.Module) -> int:
    """Wrap every decoder layer whose projections are all compact in a CompactDecoderLayer."""
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()  # a peft model: the transformers model inside
    layers = getattr(getattr(model, "model", None), "layers", None)
    if not isinstance(layers, torch.nn.ModuleList):
        return 0
    threads, count = torch.get_num_threads(), 0
    for i, layer in enumerate(layers):
        if CompactDecoderLayer.fits(layer):
            layers[i] = CompactDecoderLayer(layer, threads)
            count += 1
    return count


def compact_model(model: torch.nn.Module) -> int:
    """Swap every exactly-compact linear layer (peft LoRA layers included) for a CompactLinear.

    Returns how many layers were swapped; 0 leaves the model untouched (a model that did not
    come from a Q4_1/Q8_0 GGUF, a GPU, or no kernel for this CPU).
    """
    if next(model.parameters()).device.type != "cpu" or not load_kernels():
        return 0
    swaps = []
    for parent in model.modules():
        if hasattr(parent, "lora_A"):
            continue  # a LoRA layer is swapped as a whole, from its own parent
        for child_name, child in parent.named_children():
            dense, lora = child, None
            is_lora = hasattr(child, "base_layer") and hasattr(child, "lora_A")
            if is_lora:
                dense, lora = child.base_layer, _lora_parts(child)
            codes = None
            if type(dense) is torch.nn.Linear and (lora is not None or not is_lora):
                codes = split_q4_1(dense.weight) or split_q8_0(dense.weight)
            if codes is not None:
                swaps.append((parent, child_name, CompactLinear(dense, codes, lora)))
            elif is_lora:
                return 0  # a LoRA layer that stays with peft: let the caller merge the adapter instead
    for parent, child_name, layer in swaps:
        setattr(parent, child_name, layer)
    if swaps:
        use_decode_attention(model)
        compact_layers(model)
    log.info("Compact decoding: %d linear layers read from 4/8-bit codes", len(swaps))
    return len(swaps)
