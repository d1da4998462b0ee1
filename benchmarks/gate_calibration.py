"""How well the answerability gate separates a help center's questions, and how far its threshold is from the best.

    python -m benchmarks.gate_calibration --kb data/kb --questions data/eval/questions.jsonl [--report FILE.json]

For every question the search runs on the customer's words as served (`top_k`, the
search's floors) and the gate scores the passages found (`assistant/grounding/`, built
from the knowledge base, cached beside its index). It prints:

- the AUC of answerable against unanswerable questions (0.5: the gate's inputs say nothing);
- refusals and false refusals at the gate's own threshold, the one `assistant.evaluate`
  and the product use (fitted to decline `gate_sample_false_refusals` of the questions
  made from the help center's own sentences);
- the refusals at the threshold that declines 10% of *these* answerable questions, in
  sample (the best a threshold can do with these inputs), and cross-validated: set on four
  fifths of the questions, measured on the fifth left out, as `python -m training.grounding
  --calibrate` does with a company's labelled questions. The gap between the gate's own row
  and these is what a threshold fitted on made-up questions loses on a company's real ones.

The gate's own threshold is the one made from the help center, even where a calibration
is saved beside the index.

A question the search finds nothing for counts as declined, as in the product. No model is loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # import the project's packages, not benchmarks/ files of the same names

TARGET_FALSE_REFUSALS = 0.10


def calibration(scores: list[tuple[bool, float]], threshold: float) -> dict:
    """The figures this command prints, as JSON-ready data."""
    import numpy as np

    from assistant.grounding.calibration import cross_validated, declines, threshold_for
    from benchmarks.decline_probe import auc

    answerable = [p for ok, p in scores if ok]
    best = threshold_for(np.asarray(answerable), TARGET_FALSE_REFUSALS) if answerable else threshold
    return {
        "questions": len(scores),
        "unanswerable": sum(not ok for ok, _ in scores),
        "auc": auc(answerable, [p for ok, p in scores if not ok]),
        "gate": declines(scores, threshold),
        f"fitted on these questions at {TARGET_FALSE_REFUSALS:.0%} false refusals": declines(scores, best),
        "calibrated on the other folds (5-fold)": cross_validated(scores, TARGET_FALSE_REFUSALS),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default="data/kb", help="knowledge-base folder")
    parser.add_argument("--questions", default="data/eval/questions.jsonl", help="questions JSONL (data/eval format)")
    parser.add_argument("--report", default="", help="also write the figures to this JSON file")
    args, rest = parser.parse_known_args()

    from assistant.assistant import grounding_settings
    from assistant.config import load_config
    from assistant.evaluate import prepare_index
    from assistant.grounding import Grounding
    from assistant.grounding.calibration import gate_scores
    from retrieval.recall import default_index_dir, load_questions

    cfg, _ = load_config(rest)
    cfg.retrieval.kb_dir = args.kb
    if "--index_dir" not in rest:
        cfg.retrieval.index_dir = str(default_index_dir(Path(args.kb)))
    searcher = prepare_index(cfg, progress=False)
    grounding = Grounding.for_searcher(searcher, grounding_settings(cfg.chat), calibrated=False)
    scores = gate_scores(load_questions(Path(args.questions)), searcher, grounding, cfg.retrieval.top_k)
    result = {"kb": args.kb, "questions_file": args.questions, **calibration(scores, grounding.gate.threshold)}
    print(f"{result['questions']} questions ({result['unanswerable']} unanswerable) from {args.questions} on {args.kb}")
    print(f"AUC answerable vs unanswerable: {result['auc']:.3f}" if result["auc"] is not None else "AUC: n/a")
    for name, row in result.items():
        if isinstance(row, dict):
            refusal = "n/a" if row["refusal_accuracy"] is None else f"{row['refusal_accuracy']:.3f}"
            threshold = f"threshold {row['threshold']:.3f}" if "threshold" in row else f"{row['folds']} folds" + " " * 6
            print(f"  {name:48} {threshold}  refusal accuracy {refusal}  false refusals {row['false_refusals']:.3f}")
    if args.report:
        Path(args.report).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
