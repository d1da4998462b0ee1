"""What a finished run leaves in `adapters/<run>/`: adapter, tokenizer, manifest, loss plot, registry entry."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

from assistant.registry import register_run

from .config import RunConfig
from .runs import CHECKPOINTS

LOSS_PLOT = "loss.png"


def code_revision() -> str:
    """The git commit of the code that trained the adapter (`+dirty` when it has local changes)."""
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "training", "assistant"], cwd=root,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def library_versions() -> dict:
    import peft
    import torch
    import transformers
    import trl

    return {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
            "peft": peft.__version__}


def plot_losses(log_history: list[dict], path: Path, title: str) -> Path:
    """Training and evaluation loss against the optimizer step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(e["step"], e["loss"]) for e in log_history if "loss" in e]
    evals = [(e["step"], e["eval_loss"]) for e in log_history if "eval_loss" in e]
    fig, ax = plt.subplots(figsize=(6, 4))
    if train:
        ax.plot(*zip(*train), label="train loss")
    if evals:
        ax.plot(*zip(*evals), marker="o", label="eval loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def metrics_of(log_history: list[dict]) -> tuple[dict, dict]:
    """The final training summary and the last evaluation from the trainer's log."""
    train = next((e for e in reversed(log_history) if "train_runtime" in e), {})
    evals = next((e for e in reversed(log_history) if any(k.startswith("eval_") for k in e)), {})
    return train, evals


def write_manifest(run_dir: Path, cfg: RunConfig, base_path: str, info: dict, log_history: list[dict]) -> dict:
    train, evals = metrics_of(log_history)
    manifest = {
        "run_name": run_dir.name,
        "stage": cfg.stage,
        "base_model": cfg.base_model,
        "base_model_path": base_path,
        "hyperparameters": asdict(cfg),
        "train_metrics": train,
        "eval_metrics": evals,
        "code_revision": code_revision(),
        "versions": library_versions(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **info,
    }
    (run_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return manifest


def register(cfg: RunConfig, run_dir: Path, manifest: dict) -> None:
    aliases = (f"latest-{cfg.stage}",) + (("latest",) if cfg.promotion == "always" else ())
    summary = {
        "stage": cfg.stage,
        "base_model": cfg.base_model,
        "created": manifest["finished"],
        "train_loss": manifest["train_metrics"].get("train_loss"),
        "eval_loss": manifest["eval_metrics"].get("eval_loss"),
        "path": str(run_dir),
    }
    register_run(cfg.adapters_dir, run_dir.name, summary, aliases)


def drop_checkpoints(cfg: RunConfig, run_dir: Path) -> None:
    if not cfg.keep_checkpoints:
        shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)


def merge_adapter(base_path: str, adapter_dir: Path, out_dir: Path) -> Path:
    """The base model with the adapter merged in, saved for serving engines (vLLM, TGI, llama.cpp)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype)
    model = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    tmp = out_dir.with_name(out_dir.name + ".partial")
    model.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir
