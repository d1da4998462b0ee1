"""Supervised fine-tuning of the assistant's LoRA adapter on dialogues (QLoRA on a GPU).

    python -m training.sft [--config configs/sft.yaml] [--data data/sft] [--run_name NAME]
    python -m training.sft --resume true          # continue the newest interrupted SFT run
    python -m training.sft --merge true           # also write adapters/<run>/merged
    accelerate launch -m training.sft ...         # several GPUs
    python -m training.sft --help                 # every setting

Dialogues are rendered exactly as the assistant serves them, the loss covers the
assistant turns only, and samples are packed into padding-free rows.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from assistant.models import pick_device, resolve_base_model

from .config import SFTRunConfig, parse_run_config
from .modeling import (
    configure_threads, deadline_callback, load_base, load_tokenizer, lora_config, score_labelled_positions_on_cpu,
    trainer_kwargs, use_4bit,
)
from .runs import CHECKPOINTS, start_run
from .workflow import decide_promotion, evaluate_at_end, finish_run, prepare_data

log = logging.getLogger(__name__)


def sft_settings(cfg: SFTRunConfig, output_dir: str, has_eval: bool):
    """trl settings: padding-free batches; packed rows on a GPU, whole samples on the CPU.

    On the CPU, attention over a packed row is computed densely under a block mask
    (quadratic in the row and memory-hungry), so whole samples, already length-checked,
    are faster there; GPU varlen kernels make packing pay off.
    """
    from trl import SFTConfig

    pack = cfg.packing == "true" or (cfg.packing == "auto" and pick_device(cfg.device).startswith("cuda"))
    return SFTConfig(
        **trainer_kwargs(cfg, output_dir, has_eval),
        packing=pack,
        packing_strategy="bfd",  # best-fit decreasing
        padding_free=True,
        max_length=cfg.max_length if pack else None,  # lengths were checked during validation
    )


def run_sft(cfg: SFTRunConfig) -> Path:
    """Train, save and register an SFT adapter; returns its folder."""
    from trl import SFTTrainer

    cfg, run_dir, checkpoint = start_run(cfg)
    started = time.time()
    base_path = resolve_base_model(cfg.base_model)
    tokenizer = load_tokenizer(base_path)
    train, evals, info = prepare_data(cfg, "sft", tokenizer)

    threads = configure_threads(cfg)
    score_labelled_positions_on_cpu()
    model = load_base(cfg, base_path)
    args = sft_settings(cfg, str(run_dir / CHECKPOINTS), evals is not None)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=train, eval_dataset=evals,
        processing_class=tokenizer, peft_config=lora_config(cfg, model),
        callbacks=[deadline_callback(cfg.max_minutes)] if cfg.max_minutes else None,
    )
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    evaluate_at_end(trainer, evals)
    info.update(started_at=started, load_in_4bit=use_4bit(cfg), threads=threads, resumed_from=checkpoint.name if checkpoint else None)
    finish_run(trainer, cfg, run_dir, base_path, info, lambda folder: trainer.save_model(str(folder)))
    del trainer, model  # free the training copy before the promotion evaluation loads the adapter to serve it
    decide_promotion(cfg, run_dir)
    return run_dir


def main(args=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run_sft(parse_run_config(SFTRunConfig, "configs/sft.yaml", args))


if __name__ == "__main__":
    main()
