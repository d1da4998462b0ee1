"""Build (or rebuild) the grounding checks for the configured knowledge base, and calibrate its gate.

    python -m training.grounding [--config configs/assistant.yaml] [--kb_dir DIR] [--force]
    python -m training.grounding --calibrate labelled.jsonl [--false_refusals 0.10]
    python -m training.grounding --uncalibrate

The answerability gate and the support verifier are made from the indexed help center
itself (assistant/grounding/build.py) and cached beside the index. The app and the
evaluation build them on first use and again whenever the indexed chunks change; this
command does it ahead of time, indexing the knowledge base first if needed.

`--calibrate` sets the gate's threshold from your own labelled questions (JSONL, one
`{"question": ..., "answerable": true|false}` per line) so that `--false_refusals` of the
answerable ones are declined, and prints what to expect on new questions (cross-validated
on those questions). The questions are kept beside the index and the threshold follows a
re-index by itself. `--uncalibrate` goes back to the threshold made from the help center.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assistant.assistant import grounding_settings
from assistant.config import load_config
from assistant.errors import UserError
from assistant.grounding import Grounding, cache_path
from assistant.grounding.calibration import (
    Calibration,
    calibrate,
    calibration_path,
    cross_validated,
    declines,
    labelled_questions,
)


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--calibrate", default="")
    parser.add_argument("--false_refusals", type=float, default=0.10)
    parser.add_argument("--uncalibrate", action="store_true")
    return parser.parse_known_args(argv)


def describe(name: str, row: dict) -> str:
    refusal = "n/a (no unanswerable questions)" if row["refusal_accuracy"] is None else f"{row['refusal_accuracy']:.3f}"
    return f"  {name:40} refusal accuracy {refusal}, false refusals {row['false_refusals']:.3f}"


def run_calibration(grounding: Grounding, searcher, questions: list[dict], file: Path, false_refusals: float,
                    path: Path) -> None:
    """Score the labelled questions, print the gate before and after, save the calibration."""
    calibration = Calibration(questions, false_refusals, source=file.name)
    scores = calibrate(grounding, searcher, calibration)
    calibration.save(path)
    grounding.calibration = calibration
    unanswerable = sum(not q["answerable"] for q in questions)
    print(f"{len(questions)} labelled questions ({unanswerable} unanswerable) from {file}")
    made_up = grounding.made_up_threshold
    print(describe(f"threshold from the help center ({made_up:.3f})", declines(scores, made_up)))
    print(describe(f"calibrated threshold ({calibration.threshold:.3f})", declines(scores, calibration.threshold)))
    print(describe("on new questions (5-fold cross-validated)", cross_validated(scores, false_refusals)))
    print(f"Calibration saved: {path}")


def main(argv=None) -> int:
    args, rest = parse(list(sys.argv[1:] if argv is None else argv))
    if "-h" in rest or "--help" in rest:
        print(__doc__)
    if not 0 < args.false_refusals < 1:
        print("error: --false_refusals is a share between 0 and 1, e.g. 0.10", file=sys.stderr)
        return 2
    cfg, _ = load_config(rest)
    try:
        questions = labelled_questions(Path(args.calibrate)) if args.calibrate else []  # a bad file fails first
        from retrieval.index import build_index
        from retrieval.search import Searcher

        build_index(cfg.retrieval, progress=True)
        searcher = Searcher(cfg.retrieval)
        path = calibration_path(cfg.retrieval)
        grounding = Grounding.for_searcher(searcher, grounding_settings(cfg.chat), progress=True, rebuild=args.force,
                                           calibrated=not (args.calibrate or args.uncalibrate))
        if args.uncalibrate and path.exists():
            path.unlink()
            print(f"Calibration removed: {path}")
        if args.calibrate:
            run_calibration(grounding, searcher, questions, Path(args.calibrate), args.false_refusals, path)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Grounding checks ready: {cache_path(cfg.retrieval)}")
    how = f"calibrated on {len(grounding.calibration.questions)} labelled questions" if grounding.calibration else "from the help center"
    print(f"  gate threshold {grounding.gate.threshold:.3f} ({how}); support threshold {grounding.verifier.soft_threshold:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
