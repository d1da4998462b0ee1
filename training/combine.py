"""Stack two LoRA adapters into one, exactly: the deltas add up, the ranks concatenate.

DPO trains a fresh adapter on the base with the SFT adapter merged in, so the served
model is base + ΔSFT + ΔDPO. Concatenating the low-rank factors, with each adapter's
scale folded into its B matrix, gives one adapter with exactly that delta that loads
on the plain base model.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import TrainingError

WEIGHTS = "adapter_model.safetensors"


def read_adapter(folder: Path) -> tuple[dict, dict]:
    from safetensors.torch import load_file

    config = json.loads((folder / "adapter_config.json").read_text())
    if config.get("peft_type") != "LORA" or config.get("use_rslora") or config.get("use_dora"):
        raise TrainingError(f"{folder} is not a plain LoRA adapter; only those can be stacked.")
    return config, load_file(str(folder / WEIGHTS))


def stack_adapters(first: Path, second: Path, out: Path) -> Path:
    """Write to `out` one adapter whose delta is `first`'s plus `second`'s."""
    from safetensors.torch import save_file
    import torch

    (cfg_a, w_a), (cfg_b, w_b) = read_adapter(first), read_adapter(second)
    if set(w_a) != set(w_b):
        raise TrainingError(f"{first} and {second} adapt different modules; train both with the same targets.")
    scale_a, scale_b = cfg_a["lora_alpha"] / cfg_a["r"], cfg_b["lora_alpha"] / cfg_b["r"]
    stacked = {}
    for key, a_weight in w_a.items():
        if ".lora_A." in key:
            stacked[key] = torch.cat([a_weight, w_b[key]], dim=0)
        elif ".lora_B." in key:
            stacked[key] = torch.cat([a_weight * scale_a, w_b[key] * scale_b], dim=1)
        else:
            raise TrainingError(f"Cannot stack {key}: only LoRA A/B weights are supported.")
    rank = cfg_a["r"] + cfg_b["r"]
    config = {**cfg_a, "r": rank, "lora_alpha": rank, "rank_pattern": {}, "alpha_pattern": {}}
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in stacked.items()}, str(out / WEIGHTS), metadata={"format": "pt"})
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2))
    return out
