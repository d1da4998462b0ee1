"""Compact decoding: the bundled model's weights read from their 4/8-bit codes, exactly."""

import pytest
import torch

from assistant import compact
from assistant.config import ModelConfig
from assistant.generation import LocalGenerator
from assistant.models import load_chat_model

pytestmark = pytest.mark.skipif(not compact.load_kernels(), reason="no AVX2 CPU or no C++ compiler")


@pytest.fixture(scope="module")
def dense():
    model, tokenizer, _ = load_chat_model(ModelConfig(device="cpu", compact_decoding=False))
    return model, tokenizer


def test_every_bundled_linear_layer_is_rebuilt_bit_for_bit(dense):
    model, _ = dense
    layers = [m for m in model.modules() if type(m) is torch.nn.Linear]
    for layer in layers:
        codes = compact.split_q4_1(layer.weight) or compact.split_q8_0(layer.weight)
        assert codes is not None, "a linear layer of the bundled GGUF model was not recognised"
    q, d, m = compact.split_q4_1(layers[0].weight)
    low, high = (q & 0x0F).long(), (q >> 4).long()
    blocks = torch.cat([low.view(q.shape[0], -1, 16), high.view(q.shape[0], -1, 16)], -1)
    assert torch.equal(blocks * d[..., None] + m[..., None], layers[0].weight.view(q.shape[0], -1, 32))


def test_weights_that_are_not_compact_stay_dense():
    weight = torch.randn(64, 96)
    assert compact.split_q4_1(weight) is None and compact.split_q8_0(weight) is None
    model = torch.nn.Sequential(torch.nn.Linear(96, 64))
    assert compact.compact_model(model) == 0 and type(model[0]) is torch.nn.Linear


@pytest.mark.parametrize("rows", [1, 3, 11, 40])
def test_compact_layer_matches_the_dense_one(dense, rows):
    model, _ = dense
    for layer in (model.model.layers[0].mlp.down_proj, model.lm_head):
        codes = compact.split_q4_1(layer.weight) or compact.split_q8_0(layer.weight)
        fast = compact.CompactLinear(layer, codes)
        x = torch.randn(1, rows, layer.in_features)
        with torch.inference_mode():
            assert torch.allclose(fast(x), layer(x), atol=1e-4, rtol=1e-4)


def test_lora_adapter_is_served_unmerged_on_the_compact_weights(dense):
    from peft import LoraConfig, get_peft_model

    _, tokenizer = dense
    base = load_chat_model(ModelConfig(device="cpu", compact_decoding=False))[0]
    torch.manual_seed(0)
    lora = get_peft_model(base, LoraConfig(r=8, target_modules="all-linear", init_lora_weights=False))
    text = "Can I return opened headphones if the box is damaged and I lost the receipt from the store?"
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    assert ids.shape[1] > compact.MAX_ROWS
    short = ids[:, -6:]  # decode-sized: the kernel plus the low-rank update; the long one: merged dense weights
    with torch.inference_mode():
        expected = [lora(x).logits for x in (short, ids)]
        assert compact.compact_model(lora) == 211  # 210 LoRA layers with their base, and the output layer
        served = lora.get_base_model()
        assert not any(hasattr(m, "lora_A") for m in served.modules())
        for x, logits in zip((short, ids), expected):
            assert torch.allclose(served(x).logits, logits, atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("cached, rows", [(0, 1), (0, 5), (39, 1), (700, 1), (700, 4), (300, 16)])
def test_decode_attention_matches_sdpa(cached, rows, threads):
    """Short causal queries over a KV cache held in a larger preallocated room, as in decoding."""
    torch.manual_seed(cached + rows)
    total = cached + rows
    keys, values = (torch.randn(1, 3, total + 50, 64)[:, :, :total] for _ in range(2))
    query = torch.randn(1, 9, rows, 64)
    mask = torch.ones(rows, total, dtype=torch.bool).tril(cached)
    expected = torch.nn.functional.scaled_dot_product_attention(
        query, keys, values, attn_mask=mask, scale=0.125, enable_gqa=True).transpose(1, 2)
    got = torch.ops.deskmate.decode_attention(query, keys, values, 0.125, threads)
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-5)


def test_kernel_called_from_two_threads_at_once_stays_exact():
    """The kernel's helper threads serve one call at a time; a second caller meanwhile works alone."""
    import threading

    torch.manual_seed(0)
    codes = torch.randint(0, 256, (1536, 288), dtype=torch.uint8)
    d, m = torch.rand(1536, 18), torch.rand(1536, 18)
    inputs = [torch.randn(rows, 576) for rows in (1, 2, 3, 4)]
    expected = [torch.ops.deskmate.q41_linear(x, codes, d, m, 1) for x in inputs]
    wrong = []

    def hammer():
        for _ in range(200):
            for x, y in zip(inputs, expected):
                if not torch.equal(torch.ops.deskmate.q41_linear(x, codes, d, m, 2), y):
                    wrong.append(x.shape)

    workers = [threading.Thread(target=hammer) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not wrong


def test_cached_decode_steps_with_an_unmerged_lora_match_peft(dense):
    """Decode steps after a prompt, where each decoder layer runs as one kernel call with the
    LoRA update added on the compact weights, give peft's logits."""
    from peft import LoraConfig, get_peft_model
    from transformers import DynamicCache

    from assistant.generation import cache_keyword, growing_cache

    _, tokenizer = dense
    base = load_chat_model(ModelConfig(device="cpu", compact_decoding=False))[0]
    keyword = cache_keyword(base)  # the same cache keyword generate() is given
    torch.manual_seed(1)
    lora = get_peft_model(base, LoraConfig(r=8, target_modules="all-linear", init_lora_weights=False))
    ids = tokenizer("Where is my parcel? It said out for delivery yesterday and nothing came.", return_tensors="pt")["input_ids"]
    ids = torch.cat([ids, ids], 1)
    assert ids.shape[1] > compact.MAX_ROWS
    steps = [ids[:, :1], ids[:, 1:4], ids[:, 4:5]]
    with torch.inference_mode():
        cache = DynamicCache(config=base.config)
        expected = [lora(ids, **{keyword: cache}).logits[:, -1]]
        expected += [lora(step, **{keyword: cache}).logits for step in steps]
        compact.compact_model(lora)
        served = lora.get_base_model()
        layers = [m for m in served.modules() if type(m) is compact.CompactDecoderLayer]
        assert len(layers) == base.config.num_hidden_layers
        dense_calls = []
        for layer in layers:  # the dense layer inside runs only for the prompt, not for decode steps
            layer.layer.register_forward_pre_hook(lambda module, args: dense_calls.append(module))
        cache = growing_cache(served.config)
        got = [served(ids, **{keyword: cache}).logits[:, -1]]
        assert len(dense_calls) == len(layers)
        got += [served(step, **{keyword: cache}).logits for step in steps]
        assert len(dense_calls) == len(layers), "decode steps should run as one kernel call per layer"
    for g, e in zip(got, expected):
        assert torch.allclose(g, e, atol=1e-3, rtol=1e-4)
        assert torch.equal(g.argmax(-1), e.argmax(-1))


def test_compact_generator_writes_the_dense_models_text(generator, dense, searcher):
    from retrieval.passages import format_passages

    assert generator.compact, "the bundled model should load with compact decoding on this CPU"
    model, tokenizer = dense
    question = "Can I change the delivery address after ordering?"
    messages = [{"role": "user", "content": f"{question}\n\n{format_passages(searcher.search(question, 4))}"}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    plain = LocalGenerator(model, tokenizer, prompt_lookup_tokens=0)
    expected = "".join(plain.stream(prompt, max_new_tokens=48))
    assert expected.strip()
    assert "".join(generator.stream(prompt, max_new_tokens=48)) == expected
