"""The adapter registry: trained LoRA adapters by name, with aliases such as `latest`.

    adapters/registry.json = {"aliases": {"latest": "<run-name>"}, "runs": {"<run-name>": {...summary...}}}

Each run lives in `adapters/<run-name>/` next to it. Training writes the registry, the
assistant and UI read it; writes go through a temporary file and a rename, so a reader
never sees a half-written registry.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import ModelNotFoundError
from .files import write_atomically

REGISTRY_FILE = "registry.json"


def registry_path(adapters_dir: str | Path) -> Path:
    return Path(adapters_dir) / REGISTRY_FILE


def read_registry(adapters_dir: str | Path) -> dict:
    """The registry as a dict with `aliases` and `runs` (both empty when there is no registry yet)."""
    path = registry_path(adapters_dir)
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("aliases", {})
    data.setdefault("runs", {})
    return data


def write_registry(adapters_dir: str | Path, registry: dict) -> Path:
    """Atomically replace the registry file."""
    return write_atomically(registry_path(adapters_dir), json.dumps(registry, indent=2, sort_keys=True))


def register_run(adapters_dir: str | Path, run_name: str, summary: dict, aliases: tuple[str, ...] = ("latest",)) -> dict:
    """Record a finished run and point `aliases` at it; returns the new registry."""
    registry = read_registry(adapters_dir)
    registry["runs"][run_name] = summary
    for alias in aliases:
        registry["aliases"][alias] = run_name
    write_registry(adapters_dir, registry)
    return registry


def resolve_adapter(adapter: str, adapters_dir: str | Path) -> str | None:
    """A folder path, or a registry name (`latest`, a run name) looked up in `adapters_dir`."""
    if not adapter:
        return None
    if Path(adapter, "adapter_config.json").exists():
        return adapter
    registry = read_registry(adapters_dir)
    run = registry["aliases"].get(adapter, adapter)
    folder = Path(adapters_dir) / run
    if (folder / "adapter_config.json").exists():
        return str(folder)
    raise ModelNotFoundError(
        f"No adapter {adapter!r}: not a folder with adapter_config.json, nor a name in {registry_path(adapters_dir)}. "
        "Train one with `python -m training.sft`, or leave `adapter` empty to serve the base model."
    )
