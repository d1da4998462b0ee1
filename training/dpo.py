"""Preference tuning (DPO) of the assistant's adapter on chosen/rejected answer pairs.

    python -m training.dpo [--config configs/dpo.yaml] [--data data/dpo] [--sft_adapter latest-sft]
    python -m training.dpo --data feedback [--feedback_db PATH]   # pairs from the web app's feedback
    python -m training.dpo --resume true          # continue the newest interrupted DPO run
    accelerate launch -m training.dpo ...         # several GPUs
    python -m training.dpo --help                 # every setting

The SFT adapter is merged into the base in memory and DPO trains a fresh LoRA on top;
the reference model is that same model with the new adapter disabled, so no second
copy is held in memory. The saved adapter stacks SFT and DPO exactly (see combine.py)
and loads on the plain base model, like any other adapter in the registry.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from assistant.models import resolve_base_model
from assistant.registry import resolve_adapter

from .combine import stack_adapters
from .config import DPORunConfig, parse_run_config
from .modeling import (
    configure_threads, deadline_callback, load_base, load_tokenizer, lora_config, score_labelled_positions_on_cpu,
    trainer_kwargs, use_4bit,
)
from .preferences import resolve_feedback_data
from .runs import CHECKPOINTS, start_run
from .workflow import decide_promotion, evaluate_at_end, finish_run, prepare_data

log = logging.getLogger(__name__)


def rendered_dpo_trainer():
    """trl's DPOTrainer taking pairs already tokenized in the serving format."""
    from trl import DPOTrainer

    class RenderedDPOTrainer(DPOTrainer):
        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            return dataset  # `prompt_ids`/`chosen_ids`/`rejected_ids` from training.formatting

    return RenderedDPOTrainer


def policy_start(cfg: DPORunConfig, base_path: str, sft_dir: str | None):
    """The base model with the SFT adapter merged in (the DPO reference, once the new adapter is off)."""
    model = load_base(cfg, base_path)
    if sft_dir:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, sft_dir).merge_and_unload()
    return model


def saver(trainer, sft_dir: str | None):
    """Save the trained delta, stacked onto the SFT adapter when there is one."""

    def save(folder: Path) -> None:
        if not sft_dir:
            trainer.save_model(str(folder))
            return
        with tempfile.TemporaryDirectory() as tmp:
            trainer.save_model(tmp)
            stack_adapters(Path(sft_dir), Path(tmp), folder)
            shutil.copy(Path(tmp) / "adapter_config.json", folder / "dpo_delta_config.json")

    return save


def run_dpo(cfg: DPORunConfig) -> Path:
    """Train, save and register a DPO adapter; returns its folder."""
    from trl import DPOConfig

    feedback = resolve_feedback_data(cfg)  # before start_run: the saved settings name the exported file
    cfg, run_dir, checkpoint = start_run(cfg)
    started = time.time()
    base_path = resolve_base_model(cfg.base_model)
    sft_dir = resolve_adapter(cfg.sft_adapter, cfg.adapters_dir) if cfg.sft_adapter else None
    tokenizer = load_tokenizer(sft_dir or base_path)
    train, evals, info = prepare_data(cfg, "dpo", tokenizer)

    threads = configure_threads(cfg)
    score_labelled_positions_on_cpu()
    model = policy_start(cfg, base_path, sft_dir)
    args = DPOConfig(
        **trainer_kwargs(cfg, str(run_dir / CHECKPOINTS), evals is not None),
        beta=cfg.beta,
        loss_type=[cfg.dpo_loss],
        max_length=cfg.max_length,
    )
    trainer = rendered_dpo_trainer()(
        model=model, ref_model=None, args=args, train_dataset=train, eval_dataset=evals,
        processing_class=tokenizer, peft_config=lora_config(cfg, model),
        callbacks=[deadline_callback(cfg.max_minutes)] if cfg.max_minutes else None,
    )
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    evaluate_at_end(trainer, evals)
    info.update(started_at=started, load_in_4bit=use_4bit(cfg), threads=threads, sft_adapter=sft_dir,
                resumed_from=checkpoint.name if checkpoint else None)
    if feedback:
        info["feedback"] = feedback
    finish_run(trainer, cfg, run_dir, base_path, info, saver(trainer, sft_dir))
    del trainer, model  # free the training copy before the promotion evaluation loads the adapter to serve it
    decide_promotion(cfg, run_dir)
    return run_dir


def main(args=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run_dpo(parse_run_config(DPORunConfig, "configs/dpo.yaml", args))


if __name__ == "__main__":
    main()
