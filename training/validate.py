"""Check SFT or DPO data files without training: every bad line, duplicates, over-length samples.

    python -m training.validate data/sft/dialogues.jsonl [more files or folders] [--kind sft|dpo]
                                [--max_length N] [--base_model bundled:SmolLM2-135M-Instruct]

Each file is checked as what it holds (SFT dialogues or DPO pairs, from its keys) unless
`--kind` says. Lengths are counted in tokens of the rendered conversation (the tokenizer
only, no model is loaded) against the `max_length` training uses (`configs/<kind>.yaml`);
pass `--max_length 0` to skip them. Exits 1 when there are errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assistant.config import BUNDLED_CHAT_MODEL

from .data import data_files, detect_kind, load_samples
from .errors import TrainingError
from .formatting import tokenizer_for


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.validate", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help=".jsonl files or folders of them")
    parser.add_argument("--kind", choices=("sft", "dpo"), help="data kind (default: detected from the keys)")
    parser.add_argument("--max_length", type=int, default=None,
                        help="longest sample in tokens (0: skip; default: max_length of configs/<kind>.yaml, "
                             "what training uses)")
    parser.add_argument("--base_model", default=BUNDLED_CHAT_MODEL, help="model whose tokenizer counts tokens")
    return parser.parse_args(argv)


def files_by_kind(files, kind: str | None) -> dict[str, list[str]]:
    """The files grouped by what they hold: `kind` for all of them when given, else each file's own
    (so `data/sft data/dpo` checks dialogues as dialogues and pairs as pairs)."""
    groups: dict[str, list[str]] = {}
    for path in files:
        groups.setdefault(kind or detect_kind([path]), []).append(str(path))
    return groups


def training_max_length(kind: str) -> int:
    """The `max_length` the shipped training config for `kind` trains with (`configs/sft.yaml`, `configs/dpo.yaml`)."""
    import yaml

    from .config import SFTRunConfig

    path = Path("configs") / f"{kind}.yaml"
    settings = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    return int((settings or {}).get("max_length", SFTRunConfig.max_length))


def served_dialogue():
    """The dialogue configs/assistant.yaml serves: samples are measured as training will render them."""
    from assistant.dialogue import Dialogue

    from .config import RunConfig, assistant_settings

    return Dialogue.from_config(assistant_settings(RunConfig.assistant_config))


def validate(argv=None) -> int:
    args = parse_args(argv)
    errors = 0
    try:
        groups = files_by_kind(data_files(args.files), args.kind)
        tokenizer = None
        if args.max_length != 0:
            from assistant.models import resolve_base_model

            from .modeling import load_tokenizer

            tokenizer = load_tokenizer(resolve_base_model(args.base_model))
            dialogue = served_dialogue()
        for kind, files in groups.items():
            tokenize = tokenizer_for(kind, tokenizer, dialogue) if tokenizer is not None else None
            max_length = args.max_length if args.max_length is not None else training_max_length(kind)
            report = load_samples(files, kind, tokenize, max_length)
            print(report.summary())
            errors += len(report.errors)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(validate())
