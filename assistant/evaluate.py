"""Run the full assistant on evaluation questions and report answer quality, adapters side by side.

    python -m assistant.evaluate --kb data/kb --questions data/eval/questions.jsonl --adapter base --adapter latest
    python -m assistant.evaluate --adapter base latest-sft latest --limit 60 --report reports/eval.json
    python -m assistant.evaluate --help            # plus every assistant setting (--max_new_tokens, --top_k, ...)

`--adapter` takes registry names or folders; `base` is the base model without an adapter;
`extractive` answers with no model at all (the two passage sentences closest to the question),
the anchor every model should beat. `--grounding false` switches the grounding checks off, to
compare answers and latency with and without them.
The knowledge base is indexed first if needed (its own index under $DESKMATE_HOME/eval-index,
incremental). Each answer is appended to `<report>.rows.jsonl` as soon as it is scored, so a
killed run continues where it stopped; rows are reused only for the same question, model and
settings (`--fresh` recomputes them). `--limit N` evaluates a fixed sample of N questions that
keeps the file's share of unanswerable ones. Writes the JSON report and a Markdown table
(`<report>.md`) and prints the table. Metric definitions: assistant/metrics.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

from retrieval.recall import default_index_dir, load_questions

from .config import AppConfig, load_config
from .conversation import standalone_question
from .errors import UserError
from .metrics import METRICS, is_answerable, repeats_earlier_answer, score_answer, summarize

BASE = "base"
EXTRACTIVE = "extractive"  # no model: the two passage sentences closest to the question


def select(questions: list[dict], limit: int, seed: int = 0) -> list[dict]:
    """A fixed sample of `limit` questions with the file's share of unanswerable ones, in file order."""
    if not limit or limit >= len(questions):
        return questions
    unanswerable = [i for i, q in enumerate(questions) if not is_answerable(q)]
    answerable = [i for i, q in enumerate(questions) if is_answerable(q)]
    n_unanswerable = min(len(unanswerable), max(1 if unanswerable else 0, round(limit * len(unanswerable) / len(questions))))
    n_answerable = min(len(answerable), limit - n_unanswerable)
    rng = random.Random(seed)
    picked = rng.sample(answerable, n_answerable) + rng.sample(unanswerable, n_unanswerable)
    return [questions[i] for i in sorted(picked)]


def question_id(question: dict, position: int) -> str:
    return str(question.get("id") or f"line-{position}")


def model_config(cfg: AppConfig, label: str) -> AppConfig:
    adapter = "" if label in (BASE, EXTRACTIVE, "") else label
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, adapter=adapter))


def adapter_identity(cfg: AppConfig) -> str:
    """The adapter folder and when it was trained, so a re-trained `latest` is not mistaken for the old one."""
    from .registry import resolve_adapter

    folder = resolve_adapter(cfg.model.adapter, cfg.model.adapters_dir)
    if not folder:
        return ""
    weights = Path(folder, "adapter_model.safetensors")
    stamp = weights.stat().st_mtime if weights.exists() else ""
    return f"{Path(folder).resolve()}@{stamp}"


def settings_key(cfg: AppConfig) -> str:
    """A hash of everything that changes an answer: model, adapter, chat and search settings, knowledge base,
    the gate's calibration on labelled questions."""
    from .grounding.calibration import calibration_path

    calibration = calibration_path(cfg.retrieval)
    parts = {
        "calibration": hashlib.sha256(calibration.read_bytes()).hexdigest() if calibration.exists() else "",
        "model": {k: v for k, v in dataclasses.asdict(cfg.model).items() if k not in ("adapter", "adapters_dir")},
        "adapter": adapter_identity(cfg),
        "chat": dataclasses.asdict(cfg.chat),
        "retrieval": {k: v for k, v in dataclasses.asdict(cfg.retrieval).items() if k != "index_dir"},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class RowCache:
    """Scored answers appended one JSON line at a time; a torn last line from a kill is ignored."""

    def __init__(self, path: Path, fresh: bool = False):
        self.path = path
        if fresh:
            path.unlink(missing_ok=True)
        if path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n"):
            with path.open("a", encoding="utf-8") as handle:  # end a line torn by a kill, once
                handle.write("\n")

    def rows(self, key: str) -> dict[tuple[str, str], dict]:
        found = {}
        if not self.path.exists():
            return found
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if entry.get("key") == key:
                found[(entry["qid"], entry["question"])] = entry["row"]
        return found

    def append(self, key: str, qid: str, row: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            entry = {"key": key, "qid": qid, "question": row["question"], "row": row}
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


class ExtractiveAnswerer:
    """The anchor every model is compared with: search with the customer's words and show the two passage
    sentences closest to the question, quoted and cited. No gate and no model."""

    sentences = 2

    def __init__(self, cfg: AppConfig, searcher):
        from .assistant import grounding_settings
        from .grounding import Grounding

        self.cfg, self.searcher = cfg, searcher
        self.grounding = Grounding.for_searcher(searcher, grounding_settings(cfg.chat))

    def stream(self, messages: list[dict]):
        from .assistant import Answer, Event
        from .citations import verify
        from .grounding import quote
        from .grounding.extractive import closest_sentences

        started = time.perf_counter()
        question = standalone_question(messages, messages[-1]["content"])
        passages = self.searcher.search(question, self.cfg.retrieval.top_k)
        picked = closest_sentences(question, passages, self.grounding.encoder, self.grounding.vocabulary, self.sentences,
                                   latest=messages[-1]["content"])
        text, citations = verify(quote(picked), passages, attribute_uncited=False)
        answer = Answer(text or self.cfg.chat.no_evidence_message, citations, passages, bool(citations), False,
                        refused=not picked, timings={"total_s": time.perf_counter() - started, "search_s": 0.0})
        yield Event("final", answer)


def document_texts(searcher) -> dict[str, str]:
    """Each indexed document's text (its chunks in order), for the supported-sentences metric."""
    documents: dict[str, list[str]] = {}
    for chunk in searcher.chunks():
        documents.setdefault(chunk["source"], []).append(chunk["text"])
    return {source: "\n".join(texts) for source, texts in documents.items()}


def answer_question(assistant, question: dict, documents: dict[str, str] | None = None) -> dict:
    """Ask one question through the full loop, after its conversation's earlier turns (`history`, for
    follow-ups), and score the answer (an error is a row too). A follow-up answered with an earlier answer
    again scores no key content and no token-F1."""
    history = question.get("history") or []
    try:
        events = list(assistant.stream([*history, {"role": "user", "content": question["question"]}]))
    except UserError as exc:
        return {"id": question.get("id"), "question": question["question"], "answerable": is_answerable(question),
                "error": str(exc)}
    answer = events[-1].data
    raw = answer.draft or "".join(e.data for e in events if e.type == "delta")
    row = score_answer(question, answer, raw, documents)
    if history:
        earlier = [m["content"] for m in history if m["role"] == "assistant"]
        row["repeats_earlier"] = not row["refused"] and repeats_earlier_answer(answer.text, earlier)
        if row["repeats_earlier"] and row["answerable"]:
            row.update(key_content=False, token_f1=0.0)
    return row


def first_turns(questions: list[dict]) -> list[dict]:
    """The follow-ups asked as first messages, in their stand-alone wording: the anchor follow-ups are compared with."""
    return [{**q, "id": f"{q.get('id', '')}-first", "question": q["standalone"], "history": []}
            for q in questions if q.get("history") and q.get("standalone")]


def evaluate_model(cfg: AppConfig, questions: list[dict], cache: RowCache, searcher, label: str,
                   progress: bool = True, make_assistant=None) -> list[dict]:
    """Rows for every question, reusing cached ones; the model loads only when something is left to do."""
    from tqdm.auto import tqdm

    key = settings_key(cfg) if label != EXTRACTIVE else f"{EXTRACTIVE}:{settings_key(cfg)}"
    cached = cache.rows(key)
    ids = [question_id(q, i) for i, q in enumerate(questions, 1)]
    todo = [(qid, q) for qid, q in zip(ids, questions) if (qid, q["question"]) not in cached]
    if len(todo) < len(questions):
        print(f"{label}: reusing {len(questions) - len(todo)} answers from {cache.path}", file=sys.stderr)
    if todo:
        if label == EXTRACTIVE:
            assistant = ExtractiveAnswerer(cfg, searcher)
        else:
            assistant = (make_assistant or build_assistant)(cfg, searcher)
        documents = document_texts(searcher) if hasattr(searcher, "chunks") else {}
        for qid, question in tqdm(todo, desc=label, unit="question", disable=not progress):
            row = answer_question(assistant, question, documents)
            cache.append(key, qid, row)
            cached[(qid, question["question"])] = row
    return [cached[(qid, q["question"])] for qid, q in zip(ids, questions)]


def build_assistant(cfg: AppConfig, searcher):
    from .assistant import Assistant, load_generator

    return Assistant(load_generator(cfg), searcher, cfg)


def prepare_index(cfg: AppConfig, progress: bool = True):
    """Index the knowledge base (incrementally) and open a searcher on it."""
    from retrieval.index import build_index
    from retrieval.search import Searcher

    summary = build_index(cfg.retrieval, progress=progress)
    if summary.failed:
        print(f"warning: {len(summary.failed)} documents could not be read: {', '.join(summary.failed)}", file=sys.stderr)
    return Searcher(cfg.retrieval)


def evaluate(cfg: AppConfig, questions: list[dict], labels: list[str], report: Path, fresh: bool = False,
             progress: bool = True, searcher=None, make_assistant=None) -> dict:
    """Evaluate each model label on the questions; returns the report (also written as JSON and Markdown)."""
    searcher = searcher or prepare_index(cfg, progress)
    cache = RowCache(rows_path(report), fresh)
    started = time.time()
    models = {}
    alone = first_turns(questions)
    variants = [("", questions)] + ([(" (first turn)", alone)] if alone else [])
    for label in labels:
        for suffix, asked in variants:  # follow-ups, then the same questions asked alone
            rows = evaluate_model(model_config(cfg, label), asked, cache, searcher, label, progress, make_assistant)
            models[label + suffix] = {"summary": summarize(rows), "rows": rows}
    result = {
        "kb": cfg.retrieval.kb_dir,
        "questions": len(questions),
        "settings": {"max_new_tokens": cfg.chat.max_new_tokens, "tool_policy": cfg.chat.tool_policy,
                     "top_k": cfg.retrieval.top_k, "min_score": cfg.retrieval.min_score,
                     "base_model": cfg.model.base_model, "backend": cfg.model.backend,
                     "gate_calibrated_on": calibrated_on(cfg)},
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "duration_s": round(time.time() - started, 1),
        "models": models,
    }
    write_report(result, report)
    return result


def calibrated_on(cfg: AppConfig) -> int | None:
    """How many labelled questions set the gate's threshold (`training.grounding --calibrate`); None: the
    threshold made from the help center, the shipped default."""
    from .grounding.calibration import Calibration, calibration_path

    calibration = Calibration.load(calibration_path(cfg.retrieval))
    return len(calibration.questions) if calibration else None


def rows_path(report: Path) -> Path:
    return report.with_name(report.name + ".rows.jsonl")


def _cell(key: str, value) -> str:
    if value is None:
        return "n/a"
    if key.startswith("latency") or key == "tokens_per_s":
        return f"{value:.1f}"
    return f"{value:.3f}"


def markdown_table(result: dict) -> str:
    labels = list(result["models"])
    first = result["models"][labels[0]]["summary"]
    lines = [
        f"{result['questions']} questions ({first['answerable']} answerable, {first['unanswerable']} unanswerable)",
        "",
        "| metric | " + " | ".join(labels) + " |",
        "|---|" + "---:|" * len(labels),
    ]
    for key, label, direction in METRICS:
        arrow = {1: " ↑", -1: " ↓", 0: ""}[direction]
        cells = [_cell(key, result["models"][m]["summary"][key]) for m in labels]
        lines.append(f"| {label}{arrow} | " + " | ".join(cells) + " |")
    calibrated = result.get("settings", {}).get("gate_calibrated_on")
    if calibrated:
        lines[1:1] = ["", f"The gate's threshold was calibrated on {calibrated} labelled questions "
                          "(python -m training.grounding --calibrate)."]
    errors = {m: s["summary"]["errors"] for m, s in result["models"].items() if s["summary"]["errors"]}
    if errors:
        lines += ["", "Questions that failed with an error: " + ", ".join(f"{m} {n}" for m, n in errors.items())]
    return "\n".join(lines) + "\n"


def write_report(result: dict, report: Path) -> None:
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    report.with_suffix(".md").write_text(markdown_table(result), encoding="utf-8")


def parse_args(argv=None) -> tuple[argparse.Namespace, AppConfig]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=False)
    parser.add_argument("--kb", default="data/kb", help="Knowledge-base folder.")
    parser.add_argument("--questions", default="data/eval/questions.jsonl", help="Questions JSONL file.")
    parser.add_argument("--adapter", action="extend", nargs="+", default=[],
                        help="Models to compare: 'base', registry names or folders (default: the configured adapter). "
                             "The 'extractive' row (no model) is always added.")
    parser.add_argument("--limit", type=int, default=0, help="Evaluate a fixed sample of this many questions (0: all).")
    parser.add_argument("--report", default="eval_report.json", help="JSON report; the Markdown table goes beside it.")
    parser.add_argument("--fresh", action="store_true", help="Recompute answers instead of reusing earlier rows.")
    parser.add_argument("--no_progress", action="store_true", help="No progress bars.")
    args, rest = parser.parse_known_args(argv)
    if "-h" in rest or "--help" in rest:
        parser.print_help()
        print("\nAssistant settings (flags or --config FILE.yaml):")
    cfg, _ = load_config(rest)
    cfg.retrieval.kb_dir = args.kb
    if "--index_dir" not in rest:
        cfg.retrieval.index_dir = str(default_index_dir(Path(args.kb)))
    args.adapter = args.adapter or [cfg.model.adapter or BASE]
    if EXTRACTIVE not in args.adapter:
        args.adapter.insert(0, EXTRACTIVE)  # every report shows the no-model anchor beside the models
    return args, cfg


def main(argv=None) -> int:
    args, cfg = parse_args(argv)
    report = Path(args.report)
    try:
        questions = select(load_questions(Path(args.questions)), args.limit)
        result = evaluate(cfg, questions, args.adapter, report, args.fresh, not args.no_progress)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(markdown_table(result))
    print(f"report: {report} and {report.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
