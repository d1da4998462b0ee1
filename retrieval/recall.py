"""Document-level retrieval quality on an evaluation set.

    python -m retrieval.recall --kb data/kb --questions data/eval/questions.jsonl [--report out.json]
    python -m retrieval.recall --questions data/eval/*.jsonl --fusion rrf   # several files, other settings

A hit is a passage from the question's `support_doc` (its path relative to the
knowledge-base folder). Prints recall@1, recall@5 and MRR@5 over answerable questions, and
for unanswerable ones how often search rightly returns no evidence. The index for `--kb`
lives in its own folder under $DESKMATE_HOME/eval-index (incremental, so re-runs are quick)
unless `--index_dir` is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

from .config import RetrievalConfig, cache_home, parse_config
from .errors import RetrievalError, UserError

DEPTH = 5


class QuestionsFileError(RetrievalError):
    """The evaluation questions file is missing or malformed."""


def load_questions(path: Path) -> list[dict]:
    if not path.is_file():
        raise QuestionsFileError(f"Questions file {path} does not exist; pass a JSONL file of questions.")
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionsFileError(f"{path}:{number} is not valid JSON ({exc.msg}).") from exc
        if not isinstance(row, dict) or not str(row.get("question", "")).strip():
            raise QuestionsFileError(f"{path}:{number} needs a 'question' field (see data/README.md).")
        questions.append(row)
    return questions


def is_answerable(question: dict) -> bool:
    """Unless marked `answerable: false`, a question with a support document or a gold answer (the one
    definition: retrieval scores and answer scores both use it)."""
    return question.get("answerable", True) is not False and bool(question.get("support_doc") or question.get("answer"))


def score(questions: list[dict], search: Callable[[str], list[str]]) -> dict:
    """Metrics for a `search(question) -> [source of passage 1, 2, ...]` function. An answerable question with
    no support document cannot be scored for retrieval and is left out."""
    questions = [q for q in questions if not is_answerable(q) or q.get("support_doc")]
    per_question, hits1, hits5, rr, refused, empty = [], 0, 0, 0.0, 0, 0
    answerable = [q for q in questions if is_answerable(q)]
    for q in questions:
        sources = search(q["question"])[:DEPTH]
        row = {"id": q.get("id"), "question": q["question"], "support_doc": q.get("support_doc"), "retrieved": sources}
        if is_answerable(q):
            rank = next((i for i, s in enumerate(sources, 1) if s == q["support_doc"]), None)
            hits1 += rank == 1
            hits5 += rank is not None
            rr += 1.0 / rank if rank else 0.0
            empty += not sources
            row["rank"] = rank
        else:
            refused += not sources
            row["no_evidence"] = not sources
        per_question.append(row)
    n, m = max(len(answerable), 1), max(len(questions) - len(answerable), 1)
    return {
        "answerable": len(answerable),
        "unanswerable": len(questions) - len(answerable),
        "recall@1": hits1 / n,
        "recall@5": hits5 / n,
        "mrr@5": rr / n,
        "no_evidence_when_unanswerable": refused / m if len(questions) > len(answerable) else None,
        "no_evidence_when_answerable": empty / n,
        "questions": per_question,
    }


def default_index_dir(kb_dir: Path) -> Path:
    key = hashlib.sha256(str(kb_dir.resolve()).encode()).hexdigest()[:12]
    return cache_home() / "eval-index" / key


def evaluate(cfg: RetrievalConfig, questions_files: list[Path], progress: bool = True) -> dict:
    """Index `cfg.kb_dir` (incrementally) and score the search on each questions file.

    With several files the result covers all their questions together, and `files` holds
    each file's own metrics (without the per-question rows).
    """
    from .index import build_index
    from .search import Searcher

    per_file = {str(f): load_questions(f) for f in questions_files}
    summary = build_index(cfg, progress=progress)
    searcher = Searcher(cfg)
    sources: dict[str, list[str]] = {}

    def search(text: str) -> list[str]:
        if text not in sources:
            sources[text] = [p.source for p in searcher.search(text, k=DEPTH)]
        return sources[text]

    result = score([q for qs in per_file.values() for q in qs], search)
    if len(per_file) > 1:
        result["files"] = {name: {k: v for k, v in score(qs, search).items() if k != "questions"}
                           for name, qs in per_file.items()}
    result["index"] = {"documents": summary.documents, "chunks": summary.chunks, "failed": summary.failed}
    return result


def print_metrics(name: str, result: dict) -> None:
    print(f"{name}: {result['answerable']} answerable questions: recall@1 {result['recall@1']:.3f}  "
          f"recall@5 {result['recall@5']:.3f}  MRR@5 {result['mrr@5']:.3f}")
    if result["unanswerable"]:
        print(f"{name}: {result['unanswerable']} unanswerable: no evidence returned for "
              f"{result['no_evidence_when_unanswerable']:.1%}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Retrieval recall@1 / recall@5 / MRR@5 on an evaluation set.")
    parser.add_argument("--kb", default="data/kb", help="Knowledge-base folder.")
    parser.add_argument("--questions", nargs="+", default=["data/eval/questions.jsonl"],
                        help="Questions JSONL files; several are scored one by one and together.")
    parser.add_argument("--report", default="retrieval_eval.json", help="Where to write the JSON report.")
    args, rest = parser.parse_known_args(argv)
    (cfg,) = parse_config([RetrievalConfig], rest)
    cfg.kb_dir = args.kb
    if "--index_dir" not in rest:
        cfg.index_dir = str(default_index_dir(Path(args.kb)))
    try:
        result = evaluate(cfg, [Path(f) for f in args.questions])
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    Path(args.report).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name, file_result in result.get("files", {}).items():
        print_metrics(name, file_result)
    print_metrics("all" if "files" in result else args.questions[0], result)
    print(f"report: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
