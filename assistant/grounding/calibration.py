"""The gate's threshold set on a company's own labelled questions instead of made-up ones.

    python -m training.grounding --calibrate labelled.jsonl [--false_refusals 0.10]

Out of the box the threshold declines a small share of questions made from the help
center's own sentences (`build.py`). How far real questions sit from the articles' wording
differs from one help center to the next, so the same rule declines too much on one and too
little on another. A support team that has labelled some of its real questions (one JSON
object per line: `question`, and `answerable` true or false; the data/eval format works as
is) can move the threshold to where `false_refusals` of its answerable questions are
declined. The questions are kept in a file beside the index and the threshold is worked
out again from them whenever the checks are rebuilt (after a re-index), so calibration is
never lost and never stale.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.recall import is_answerable, load_questions

from ..errors import AssistantError
from ..files import write_atomically

MIN_ANSWERABLE = 10
FOLDS = 5


class CalibrationError(AssistantError):
    """The labelled questions cannot set the gate's threshold."""


def calibration_path(retrieval_cfg) -> Path:
    return retrieval_cfg.resolved_index_dir() / f"grounding-{retrieval_cfg.collection}-calibration.json"


def labelled_questions(path: Path) -> list[dict]:
    """`{"question", "answerable"}` per line of a JSONL file. `answerable` may be left out where the row
    has a `support_doc` or an `answer` (the data/eval format)."""
    rows = []
    for number, q in enumerate(load_questions(path), 1):
        if q.get("answerable") is None and not (q.get("support_doc") or q.get("answer")):
            raise CalibrationError(f"Question {number} of {path} ({q['question'][:60]!r}) has no label: add "
                                   "\"answerable\": true or false.")
        if q.get("answerable") is not None and not isinstance(q["answerable"], bool):
            raise CalibrationError(f"Question {number} of {path} has \"answerable\": {json.dumps(q['answerable'])}; "
                                   "write true or false, without quotes.")
        rows.append({"question": q["question"], "answerable": label(q)})
    if sum(q["answerable"] for q in rows) < MIN_ANSWERABLE:
        raise CalibrationError(f"{path} has fewer than {MIN_ANSWERABLE} answerable questions; label more of your "
                               "real questions (\"answerable\": true) to set the threshold from them.")
    return rows


def label(row: dict) -> bool:
    """A row's own `answerable` when it is set, else whether it names a support document or an answer."""
    return bool(row["answerable"]) if row.get("answerable") is not None else is_answerable(row)


def gate_scores(questions: list[dict], searcher, grounding, k: int) -> list[tuple[bool, float]]:
    """(answerable, the gate's probability) per question, each searched as served; 0.0 when the search finds
    nothing (the question is declined whatever the threshold)."""
    scores = []
    for q in questions:
        found = searcher.search(q["question"], k)
        scores.append((label(q), grounding.answerability(q["question"], found) if found else 0.0))
    return scores


def threshold_for(answerable: np.ndarray, false_refusals: float) -> float:
    """The highest threshold that declines at most `false_refusals` of these answerable questions (a score
    below it is declined): the score of the first answerable question past that share, lowest first."""
    ordered = np.sort(np.asarray(answerable, dtype=np.float64))
    allowed = int(np.floor(false_refusals * len(ordered) + 1e-9))
    return float(ordered[min(allowed, len(ordered) - 1)])


def declines(scores: list[tuple[bool, float]], threshold: float) -> dict:
    """Refusal accuracy on the unanswerable questions and false refusals on the answerable ones."""
    answerable = [p for ok, p in scores if ok]
    unanswerable = [p for ok, p in scores if not ok]
    return {
        "threshold": threshold,
        "refusal_accuracy": sum(p < threshold for p in unanswerable) / len(unanswerable) if unanswerable else None,
        "false_refusals": sum(p < threshold for p in answerable) / len(answerable) if answerable else None,
    }


def cross_validated(scores: list[tuple[bool, float]], false_refusals: float, folds: int = FOLDS) -> dict:
    """Refusals and false refusals on each held-out fold with the threshold set on the other folds, summed over
    the folds: what calibrating on these questions gives on new questions like them."""
    from sklearn.model_selection import KFold, StratifiedKFold

    labels = np.asarray([ok for ok, _ in scores])
    values = np.asarray([p for _, p in scores])
    stratify = min(labels.sum(), (~labels).sum()) >= folds
    splitter = StratifiedKFold(folds, shuffle=True, random_state=0) if stratify else KFold(folds, shuffle=True, random_state=0)
    declined_un = declined_ok = 0
    for train, test in splitter.split(values, labels):
        fitted = threshold_for(values[train][labels[train]], false_refusals)
        declined_un += int((values[test][~labels[test]] < fitted).sum())
        declined_ok += int((values[test][labels[test]] < fitted).sum())
    unanswerable, answerable = int((~labels).sum()), int(labels.sum())
    return {
        "folds": folds,
        "refusal_accuracy": declined_un / unanswerable if unanswerable else None,
        "false_refusals": declined_ok / answerable,
    }


@dataclass
class Calibration:
    """The labelled questions, the target, and the threshold worked out for the checks with `key`."""

    questions: list[dict]
    false_refusals: float
    source: str = ""
    key: str = ""
    threshold: float | None = None

    def save(self, path: Path) -> None:
        write_atomically(path, json.dumps(self.__dict__, indent=1))

    @classmethod
    def load(cls, path: Path) -> "Calibration | None":
        if not path.exists():
            return None
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise CalibrationError(f"{path} is unreadable ({exc}); calibrate again with python -m training.grounding "
                                   "--calibrate FILE, or delete it to use the threshold made from the help center.") from exc


def calibrate(grounding, searcher, calibration: Calibration) -> list[tuple[bool, float]]:
    """Set `grounding`'s gate threshold from the labelled questions and record it with the checks' key;
    returns the questions' gate scores."""
    scores = gate_scores(calibration.questions, searcher, grounding, searcher.cfg.top_k)
    answerable = np.asarray([p for ok, p in scores if ok])
    calibration.threshold = threshold_for(answerable, calibration.false_refusals)
    calibration.key = grounding.key
    grounding.gate.threshold = calibration.threshold
    return scores


def apply_saved(grounding, searcher) -> Calibration | None:
    """Use the calibration saved beside the index, if any; worked out again when the checks were rebuilt."""
    path = calibration_path(searcher.cfg)
    calibration = Calibration.load(path)
    if calibration is None:
        return None
    if calibration.key == grounding.key and calibration.threshold is not None:
        grounding.gate.threshold = calibration.threshold
        return calibration
    print(f"Setting the gate's threshold again from the {len(calibration.questions)} labelled questions in {path} "
          "(the checks were rebuilt) ...", file=sys.stderr)
    calibrate(grounding, searcher, calibration)
    calibration.save(path)
    return calibration
