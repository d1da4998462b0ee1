"""The steps SFT and DPO share: validated data in, a registered adapter out."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

from .config import RunConfig
from .data import DataReport, Sample, file_hashes, load_samples
from .formatting import tokenizer_for
from .outputs import LOSS_PLOT, drop_checkpoints, merge_adapter, plot_losses, register, write_manifest

log = logging.getLogger(__name__)


def checked(paths: list[str], kind: str, cfg: RunConfig, tokenize) -> DataReport:
    report = load_samples(paths, kind, tokenize, cfg.max_length)
    for problem in report.warnings:
        log.warning("%s", problem)
    if report.errors and cfg.skip_invalid:
        log.warning("Skipping %d bad lines:\n%s", len(report.errors), "\n".join(map(str, report.errors)))
    report.raise_on_errors(cfg.skip_invalid)
    return report


def split(samples: list[Sample], cfg: RunConfig) -> tuple[list[Sample], list[Sample]]:
    """A seeded hold-out of `eval_fraction` of the samples (at least one when there are two or more)."""
    order = samples[:]
    random.Random(cfg.seed).shuffle(order)
    n_eval = round(len(order) * cfg.eval_fraction)
    if cfg.eval_fraction > 0 and len(order) >= 2:
        n_eval = max(1, n_eval)
    return order[n_eval:], order[:n_eval]


def prepare_data(cfg: RunConfig, kind: str, tokenizer):
    """Validate and tokenize the files (before any model loads), split; returns `(train, eval, info)`."""
    from datasets import Dataset

    dialogue = cfg.served_dialogue()
    tokenize = tokenizer_for(kind, tokenizer, dialogue)
    report = checked(cfg.data, kind, cfg, tokenize)
    if cfg.eval_data:
        train, evals = report.samples, checked(cfg.eval_data, kind, cfg, tokenize).samples
    else:
        train, evals = split(report.samples, cfg)
    if cfg.max_examples:
        train = train[: cfg.max_examples]
    if cfg.max_eval_examples:
        evals = evals[: cfg.max_eval_examples]

    def to_dataset(samples):
        rows = [s.tokens for s in samples]
        return Dataset.from_list(rows) if rows else None

    info = {
        "data": file_hashes(cfg.data),
        "eval_data": file_hashes(cfg.eval_data) if cfg.eval_data else "held out from data",
        "samples": {"train": len(train), "eval": len(evals), "bad_lines_skipped": len(report.errors),
                    "duplicates_skipped": len(report.warnings)},
        "dialogue": dialogue.settings(),  # serving warns when it serves another one
    }
    log.info("%s data: %d train, %d eval samples", kind.upper(), len(train), len(evals))
    return to_dataset(train), to_dataset(evals), info


def evaluate_at_end(trainer, evals) -> None:
    """Evaluate the final weights unless the trainer just did."""
    step = trainer.state.global_step
    if evals is not None and not any(e.get("step") == step and "eval_loss" in e for e in trainer.state.log_history):
        trainer.evaluate()


def finish_run(trainer, cfg: RunConfig, run_dir: Path, base_path: str, info: dict,
               save_adapter: Callable[[Path], None]) -> dict:
    """Save adapter, tokenizer (with its chat template), loss plot and manifest; register the run."""
    save_adapter(run_dir)
    trainer.processing_class.save_pretrained(run_dir)
    history = trainer.state.log_history
    trainer.state.save_to_json(str(run_dir / "trainer_state.json"))  # the full loss log, beside the plot
    plot_losses(history, run_dir / LOSS_PLOT, f"{cfg.stage.upper()} {run_dir.name}")
    started = info.pop("started_at")
    info["started"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))
    info["duration_s"] = round(time.time() - started, 1)
    manifest = write_manifest(run_dir, cfg, base_path, info, history)
    if cfg.merge:
        merge_adapter(base_path, run_dir, run_dir / "merged")
    register(cfg, run_dir, manifest)
    drop_checkpoints(cfg, run_dir)
    log.info("Saved %s adapter to %s (registry: latest-%s%s)", cfg.stage.upper(), run_dir, cfg.stage,
             ", latest" if cfg.promotion == "always" else "")
    return manifest


def decide_promotion(cfg: RunConfig, run_dir: Path) -> dict | None:
    """Make the run `latest` as `--promotion` says: after an evaluation against the served adapter, or never."""
    if cfg.promotion == "always":
        return None
    from .promote import app_config, describe, promote, set_status  # the evaluation stack, only when needed

    if cfg.promotion == "never":
        record = {"promoted": False, "reasons": ["trained with --promotion never"]}
        set_status(cfg.adapters_dir, run_dir.name, False, record)
    else:
        app = app_config(cfg.eval_kb, cfg.adapters_dir, base_model=cfg.base_model, config_file=cfg.assistant_config,
                         chat=cfg.served_dialogue().chat)
        record = promote(run_dir.name, app, cfg.eval_questions, limit=cfg.promotion_limit,
                         tolerance=cfg.promotion_tolerance, progress=cfg.progress)
    log.info("%s", describe(run_dir.name, record))
    return record
