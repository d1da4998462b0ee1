"""Promote a trained adapter to `latest` only when the evaluation says it is not worse than the served one.

    python -m training.promote dpo-20261122-210434 [--current latest] [--limit 40] [--tolerance 0.02]
    python -m training.promote dpo-20261122-210434 --promote      # make it `latest` whatever the figures say
    python -m training.promote dpo-20261122-210434 --kb data/kb --questions data/eval/questions.jsonl --max_new_tokens 128

Both adapters answer the same questions through `assistant.evaluate` (answers are cached, so
a repeated check is quick). The candidate is held back when any main metric (see GATE) is
worse than the current adapter's by more than the tolerance; it then stays registered under
the alias `candidate`, and the report `adapters/<run>/promotion.json` says which metrics and
by how much. SFT and DPO runs call this themselves with `--promotion evaluate` (the default).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from assistant.metrics import METRICS
from assistant.registry import read_registry, write_registry

GATE = ("key_content", "token_f1", "tool_call_validity", "citation_rate", "citation_precision",
        "refusal_accuracy", "false_refusal_rate")
DIRECTION = {key: direction for key, _, direction in METRICS}
LABELS = {key: label for key, label, _ in METRICS}
CANDIDATE = "candidate"


def regressions(candidate: dict, current: dict, tolerance: float) -> list[str]:
    """The main metrics on which the candidate is worse than the current adapter by more than `tolerance`."""
    reasons = []
    for key in GATE:
        new, old = candidate.get(key), current.get(key)
        if new is None or old is None:
            continue
        loss = (old - new) * DIRECTION[key]
        if loss > tolerance:
            reasons.append(f"{LABELS[key]}: {new:.3f} vs {old:.3f} now served (worse by {loss:.3f} > {tolerance})")
    return reasons


def set_status(adapters_dir: str | Path, run: str, promoted: bool, record: dict) -> None:
    """Point `latest` (promoted) or `candidate` (held back) at the run and record why."""
    registry = read_registry(adapters_dir)
    registry["aliases"]["latest" if promoted else CANDIDATE] = run
    if promoted and registry["aliases"].get(CANDIDATE) == run:
        del registry["aliases"][CANDIDATE]
    entry = registry["runs"].setdefault(run, {})
    entry["status"] = "latest" if promoted else CANDIDATE
    entry["promotion"] = record
    write_registry(adapters_dir, registry)


def app_config(kb: str, adapters_dir: str, extra: list[str] | None = None, base_model: str = "",
               config_file: str = "", chat=None):
    """The serving configuration (`config_file`, by default configs/assistant.yaml, plus `extra` flags) pointed
    at `kb` and the registry.

    `base_model` (the one the adapter was trained on) applies unless `extra` names another; `chat` (the chat
    settings a run trained with) replaces the file's.
    """
    from assistant.config import load_config
    from retrieval.recall import default_index_dir

    extra = list(extra or [])
    cfg, _ = load_config((["--config", config_file] if config_file and "--config" not in extra else []) + extra)
    if chat is not None:
        cfg.chat = chat
    cfg.retrieval.kb_dir = kb
    if "--index_dir" not in extra:
        cfg.retrieval.index_dir = str(default_index_dir(Path(kb)))
    cfg.model.adapters_dir = adapters_dir
    if base_model and "--base_model" not in extra:
        cfg.model.base_model = base_model
    return cfg


def promote(run: str, cfg, questions_file: str, *, current: str = "latest", limit: int = 40,
            tolerance: float = 0.02, force: bool = False, progress: bool = True, searcher=None) -> dict:
    """Evaluate `run` against `current` and make it `latest` when it is not worse (or when `force`)."""
    from assistant.evaluate import evaluate, markdown_table, select
    from retrieval.recall import load_questions

    adapters_dir = cfg.model.adapters_dir
    served = read_registry(adapters_dir)["aliases"].get(current, current if current != "latest" else "")
    record = {"decided": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "current": served, "tolerance": tolerance}
    if not served or served == run:
        record.update(promoted=True, reasons=[f"no other adapter is served as {current!r}"])
        set_status(adapters_dir, run, True, record)
        return record
    questions = select(load_questions(Path(questions_file)), limit)
    report = Path(adapters_dir) / run / "promotion-eval.json"
    result = evaluate(cfg, questions, [served, run], report, progress=progress, searcher=searcher)
    summaries = {label: result["models"][label]["summary"] for label in (served, run)}
    reasons = regressions(summaries[run], summaries[served], tolerance)
    promoted = force or not reasons
    if force and reasons:
        reasons.insert(0, "promoted by --promote although:")
    record.update(promoted=promoted, reasons=reasons or ["not worse on any main metric"], questions=len(questions),
                  questions_file=questions_file, summaries=summaries, table=markdown_table(result))
    set_status(adapters_dir, run, promoted, record)
    (Path(adapters_dir) / run / "promotion.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def describe(run: str, record: dict) -> str:
    verdict = "is now `latest`" if record["promoted"] else f"stays a candidate (alias `{CANDIDATE}`)"
    lines = [record.get("table", ""), f"{run} {verdict}:"] + [f"  - {r}" for r in record["reasons"]]
    return "\n".join(line for line in lines if line)


def main(argv=None) -> int:
    from assistant.errors import UserError

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="The trained adapter's run name (a folder under --adapters_dir).")
    parser.add_argument("--current", default="latest", help="What it must not be worse than (a registry name).")
    parser.add_argument("--adapters_dir", default="adapters")
    parser.add_argument("--kb", default="data/kb")
    parser.add_argument("--questions", default="data/eval/questions.jsonl")
    parser.add_argument("--limit", type=int, default=40, help="Questions evaluated (a fixed sample; 0: all).")
    parser.add_argument("--tolerance", type=float, default=0.02, help="Largest allowed drop of a main metric.")
    parser.add_argument("--promote", action="store_true", help="Make the run `latest` whatever the figures say.")
    args, rest = parser.parse_known_args(argv)
    if not (Path(args.adapters_dir) / args.run / "adapter_config.json").exists():
        print(f"error: no adapter {args.run!r} in {args.adapters_dir}; give a run folder name from "
              f"{Path(args.adapters_dir) / 'registry.json'}.", file=sys.stderr)
        return 2
    base_model = read_registry(args.adapters_dir)["runs"].get(args.run, {}).get("base_model", "")
    try:
        cfg = app_config(args.kb, args.adapters_dir, rest, base_model)
        record = promote(args.run, cfg, args.questions, current=args.current, limit=args.limit,
                         tolerance=args.tolerance, force=args.promote)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(describe(args.run, record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
