"""Load the base model for training (full precision or 4-bit NF4) and describe the LoRA adapter."""

from __future__ import annotations

import logging

from assistant.models import pick_device, quantization_config

from .config import RunConfig

log = logging.getLogger(__name__)


def use_4bit(cfg: RunConfig) -> bool:
    """4-bit when asked, or by default when a GPU is present (QLoRA); the CPU path works too."""
    if cfg.load_in_4bit != "auto":
        return cfg.load_in_4bit == "true"
    return pick_device(cfg.device).startswith("cuda")


def use_checkpointing(cfg: RunConfig) -> bool:
    """Activation recomputation when asked, or by default on a GPU (memory-bound there, time-bound on the CPU)."""
    if cfg.gradient_checkpointing != "auto":
        return cfg.gradient_checkpointing == "true"
    return pick_device(cfg.device).startswith("cuda")


def use_bf16(cfg: RunConfig) -> bool:
    """bf16 mixed precision when asked, or by default where the hardware computes bf16 natively."""
    import torch

    if cfg.bf16 != "auto":
        return cfg.bf16 == "true"
    if pick_device(cfg.device).startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    from retrieval.embeddings import native_bf16

    return native_bf16()


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base(cfg: RunConfig, path: str):
    """The base model on the training device; 4-bit NF4 with double quantization when `use_4bit`."""
    import torch
    from transformers import AutoModelForCausalLM

    device = pick_device(cfg.device)
    cuda = device.startswith("cuda")
    kwargs = {"dtype": torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32}
    if use_4bit(cfg):
        kwargs["quantization_config"] = quantization_config()
        kwargs["device_map"] = {"": device}
    elif cuda:
        kwargs["device_map"] = {"": device}
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    model.config.use_cache = False
    return model


def linear_module_names(model) -> list[str]:
    """Names of the model's linear layers inside its transformer blocks (what peft's 'all-linear' means)."""
    import torch

    output = model.get_output_embeddings()
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear) and module is not output})


def lora_config(cfg: RunConfig, model=None):
    """The LoRA settings; with `lora_layers`, only the model's top layers are adapted."""
    from peft import LoraConfig

    targets = cfg.lora_target_modules
    layers = None
    if cfg.lora_layers and model is not None:
        total = model.config.num_hidden_layers
        layers = list(range(max(0, total - cfg.lora_layers), total))
        if targets == "all-linear":  # peft takes a layer list only with named modules
            targets = ",".join(linear_module_names(model))
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",")],
        layers_to_transform=layers,
        task_type="CAUSAL_LM",
    )


def trainer_kwargs(cfg: RunConfig, output_dir: str, has_eval: bool) -> dict:
    """The TrainingArguments shared by SFT and DPO, derived from our settings."""
    import torch

    device = pick_device(cfg.device)
    cuda = device.startswith("cuda")
    eval_every = {"eval_strategy": "steps", "eval_steps": cfg.eval_steps} if cfg.eval_steps else {
        "eval_strategy": "epoch"
    }
    return dict(
        output_dir=output_dir,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        warmup_steps=cfg.warmup_ratio,  # a float below 1 is a share of the steps
        lr_scheduler_type=cfg.lr_scheduler,
        gradient_checkpointing=use_checkpointing(cfg),
        gradient_checkpointing_kwargs={"use_reentrant": False},
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=2,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=use_bf16(cfg),
        use_cpu=not cuda,
        report_to="none",
        disable_tqdm=not cfg.progress,
        dataloader_num_workers=0,
        **(eval_every if has_eval else {"eval_strategy": "no"}),
    )


def score_labelled_positions_on_cpu() -> None:
    """Make trl's fused LM head score only the positions that carry a label on the CPU too.

    trl projects just the labelled positions through the LM head on Triton devices and every
    position elsewhere, so that compiled backends see fixed tile shapes. Nothing is compiled
    on the CPU, where the head over every prompt token (about nine in ten of a dialogue's
    tokens carry no label) took half of each SFT and DPO step. The tiles themselves still run
    trl's own torch code; only the choice of positions changes. Idempotent.
    """
    from trl.trainer import utils as trl_utils

    choose = getattr(trl_utils, "_use_triton", None)
    if choose is None or getattr(choose, "cpu_compact", False):
        return

    def compact_on_cpu(device):
        return device.type == "cpu" or choose(device)

    compact_on_cpu.cpu_compact = True
    trl_utils._use_triton = compact_on_cpu


def configure_threads(cfg: RunConfig) -> int:
    """All cores unless `--threads` says otherwise (set it when other heavy work shares the machine:
    torch's threads spin-wait, so sharing busy cores slows training several-fold)."""
    import os

    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = cfg.threads or cores
    torch.set_num_threads(threads)
    return threads


def deadline_callback(max_minutes: float):
    """A callback that ends training gracefully (the adapter is still saved) after `max_minutes`."""
    import time

    from transformers import TrainerCallback

    class Deadline(TrainerCallback):
        """Stops when one more step would run past the limit, so the run ends near it, not one step after."""

        def on_train_begin(self, args, state, control, **kwargs):
            self.started, self.first_step = time.time(), state.global_step
            self.stop_at = self.started + max_minutes * 60

        def on_step_end(self, args, state, control, **kwargs):
            now = time.time()
            per_step = (now - self.started) / max(1, state.global_step - self.first_step)
            if now + per_step >= self.stop_at:
                log.warning("Stopping at step %d to stay within --max_minutes %s.", state.global_step, max_minutes)
                control.should_training_stop = True
            return control

    return Deadline()
