"""Check SFT or DPO data files without training: every bad line, duplicates, over-length samples.

    python -m training.validate data/sft/dialogues.jsonl [more files or folders] [--kind sft|dpo]
                                [--max_length 1024] [--base_model bundled:SmolLM2-135M-Instruct]

Lengths are counted in tokens of the rendered conversation (the tokenizer only, no
model is loaded); pass `--max_length 0` to skip them. Exits 1 when there are errors.
"""

from __future__ import annotations

import argparse
import sys

from assistant.config import BUNDLED_CHAT_MODEL

from .data import data_files, detect_kind, load_samples
from .errors import TrainingError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.validate", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help=".jsonl files or folders of them")
    parser.add_argument("--kind", choices=("sft", "dpo"), help="data kind (default: detected from the keys)")
    parser.add_argument("--max_length", type=int, default=1024, help="longest sample in tokens (0: skip)")
    parser.add_argument("--base_model", default=BUNDLED_CHAT_MODEL, help="model whose tokenizer counts tokens")
    return parser.parse_args(argv)


def validate(argv=None) -> int:
    args = parse_args(argv)
    try:
        kind = args.kind or detect_kind(data_files(args.files))
        tokenize = None
        if args.max_length:
            from assistant.models import resolve_base_model

            from .formatting import tokenizer_for
            from .modeling import load_tokenizer

            tokenize = tokenizer_for(args.kind or kind, load_tokenizer(resolve_base_model(args.base_model)))
        report = load_samples(args.files, kind, tokenize, args.max_length)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(validate())
