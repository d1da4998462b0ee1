"""Run folders under `adapters/`: naming, saving the settings, and finding what to resume.

A run writes `adapters/<run>/run_config.json` when it starts and `manifest.json` when it
finishes; a folder with checkpoints and no manifest is an interrupted run.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, fields
from pathlib import Path

from .config import RunConfig
from .errors import ResumeError

CONFIG_FILE = "run_config.json"
CHECKPOINTS = "checkpoints"


def new_run_name(stage: str) -> str:
    return f"{stage}-{time.strftime('%Y%m%d-%H%M%S')}"


def last_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint whose trainer state was written (an interrupted save does not count)."""
    folder = run_dir / CHECKPOINTS
    done = [p for p in folder.glob("checkpoint-*") if (p / "trainer_state.json").exists()] if folder.exists() else []
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def unfinished_runs(adapters_dir: Path, stage: str) -> list[Path]:
    runs = [
        p for p in adapters_dir.glob(f"{stage}-*")
        if p.is_dir() and not (p / "manifest.json").exists() and last_checkpoint(p)
    ]
    return sorted(runs, key=lambda p: p.stat().st_mtime)


def start_run(cfg: RunConfig) -> tuple[RunConfig, Path, Path | None]:
    """`(cfg, run_dir, checkpoint)`: a fresh run folder, or the interrupted run and its checkpoint.

    Resuming reuses the settings saved when the run started, so `--resume` alone is enough.
    """
    adapters_dir = Path(cfg.adapters_dir)
    if not cfg.resume:
        cfg.run_name = cfg.run_name or new_run_name(cfg.stage)
        run_dir = adapters_dir / cfg.run_name
        if (run_dir / "manifest.json").exists() or last_checkpoint(run_dir):
            raise ResumeError(f"{run_dir} already holds a run; pick another --run_name, or pass --resume true.")
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / CONFIG_FILE).write_text(json.dumps(asdict(cfg), indent=2))
        return cfg, run_dir, None
    if cfg.run_name:
        run_dir = adapters_dir / cfg.run_name
    else:
        candidates = unfinished_runs(adapters_dir, cfg.stage)
        if not candidates:
            raise ResumeError(f"No interrupted {cfg.stage} run with a checkpoint in {adapters_dir}; start a new run.")
        run_dir = candidates[-1]
    checkpoint = last_checkpoint(run_dir)
    if checkpoint is None or (run_dir / "manifest.json").exists():
        raise ResumeError(f"{run_dir} has no checkpoint to resume from (or it already finished); start a new run.")
    saved = json.loads((run_dir / CONFIG_FILE).read_text())
    known = {f.name for f in fields(cfg)}
    resumed = type(cfg)(**{k: v for k, v in saved.items() if k in known})
    resumed.resume, resumed.progress = True, cfg.progress
    return resumed, run_dir, checkpoint
