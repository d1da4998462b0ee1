"""Train the demo adapter on a first run: SFT then DPO with the default configs, unless one exists.

    python -m training.demo [--adapters_dir adapters] [--force]

`make demo` runs this before serving, so the demo is the tuned assistant. With an
adapter already registered as `latest`, it does nothing.
"""

from __future__ import annotations

import argparse
import logging

from assistant.errors import ModelNotFoundError
from assistant.registry import resolve_adapter

from .config import DPORunConfig, SFTRunConfig, parse_run_config
from .dpo import run_dpo
from .sft import run_sft


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapters_dir", default="adapters")
    parser.add_argument("--force", action="store_true", help="train even when an adapter exists")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        existing = resolve_adapter("latest", args.adapters_dir)
    except ModelNotFoundError:
        existing = None
    if existing and not args.force:
        print(f"Demo adapter ready: {existing}")
        return
    print("No trained adapter yet: training the demo adapter (SFT, then DPO; about 15 minutes on a CPU).")
    # The demo serves SFT+DPO as trained; `python -m training.promote` runs the evaluation gate on demand.
    common = ["--adapters_dir", args.adapters_dir, "--promotion", "always"]
    run_sft(parse_run_config(SFTRunConfig, "configs/sft.yaml", common))
    run_dpo(parse_run_config(DPORunConfig, "configs/dpo.yaml", common))


if __name__ == "__main__":
    main()
