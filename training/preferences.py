"""Turn answer feedback stored by the web app into DPO preference pairs (JSONL).

    python -m training.preferences [--db PATH] [--out PATH] [--since_id N]
    python -m training.dpo --data feedback [--feedback_db PATH]   # export now, then train on it

The database defaults to `assistant.feedback.default_path()` and the output to
`$DESKMATE_HOME/preferences/feedback-pairs.jsonl`. Each line is a pair in the data/dpo
format plus `kind` and `source` (e.g. "feedback:12"), which training ignores:

- `better_answer`: a thumbs-down answer and the better answer written for it (chosen).
- `rated`: a thumbs-up (chosen) and a thumbs-down (rejected) answer to the same question,
  compared ignoring case, spacing and punctuation. Each thumbs-down is paired with the most
  recent thumbs-up, in that answer's prompt: the chosen answer's [n] must point at the
  passages it was written from.
- `compare`: picks in the admin Compare view: the picked answer over the other, or a
  written answer over each of the two.

The prompt is what the served model saw (`assistant.dialogue`): the question, the search
call and the passages as the search printed them (no system message: training inserts the
serving one). A row with no passages gets an empty search result, as the assistant
always searches first, except for a request for a person, which is answered without a
search. Every text is masked again with `mask_personal_data`; nothing is ever unmasked.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.dialogue import Dialogue
from assistant.feedback import FeedbackStore, FeedbackStoreError, default_path, mask_personal_data
from assistant.files import write_atomically
from retrieval.config import cache_home

from .data import check_dpo, fingerprint
from .errors import TrainingError

if TYPE_CHECKING:
    from retrieval.passages import Passage

FEEDBACK_DATA = "feedback"  # this word in `training.dpo --data` means: export the database now, train on that
COLLECT_HINT = (
    "Rate answers in the web app (thumbs up/down, with a better answer where you can), "
    "or pick between two adapters' answers in the admin Compare view, then export again."
)
PASSAGE_TEXT_FIELDS = ("text", "doc_id", "source", "title", "section", "chunk_id")


class FeedbackExportError(TrainingError):
    """The feedback database is missing or unreadable, or gave no pairs."""


def default_out() -> Path:
    return cache_home() / "preferences" / "feedback-pairs.jsonl"


@dataclass
class Export:
    """The pairs built from a feedback database and the rows that gave none, with why."""

    pairs: list[dict] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    seen: set[str] = field(default_factory=set)
    dialogue: Dialogue = field(default_factory=Dialogue)  # the served settings: which requests hand over

    def add(self, pair: dict) -> None:
        problems = check_dpo(pair)
        key = fingerprint(pair)
        if problems:
            self.skip(pair["source"], f"invalid pair ({problems[0]})")
        elif key in self.seen:
            self.skip(pair["source"], "same pair as an earlier row")
        else:
            self.seen.add(key)
            self.pairs.append(pair)

    def skip(self, source: str, reason: str) -> None:
        self.skipped.append((source, reason))

    def summary(self, out: Path | None = None) -> str:
        lines = [f"{len(self.pairs)} pairs" + (f" written to {out}" if out else "")]
        lines += [f"  {kind}: {n}" for kind, n in sorted(Counter(p["kind"] for p in self.pairs).items())]
        by_reason = defaultdict(list)
        for source, reason in self.skipped:
            by_reason[reason].append(source)
        if by_reason:
            lines.append(f"{len(self.skipped)} rows gave no pair:")
        for reason, sources in by_reason.items():
            shown = ", ".join(sources[:8]) + (", ..." if len(sources) > 8 else "")
            lines.append(f"  {len(sources)} {reason} ({shown})")
        if not self.pairs:
            lines.append(COLLECT_HINT)
        return "\n".join(lines)


def clean(text: str | None) -> str:
    """The text with personal data masked (again) and outer whitespace removed."""
    return mask_personal_data(text or "").strip()


def same_question_key(question: str) -> str:
    """Questions that differ only in case, spacing or punctuation are the same question."""
    return " ".join(re.sub(r"[^\w\s]", " ", question.casefold()).split())


def rebuild_passages(rows: list[dict]) -> list[Passage]:
    """Passage objects from stored `Passage.to_dict()` rows, their texts masked."""
    from retrieval.passages import Passage

    passages = []
    for i, row in enumerate(rows, start=1):
        texts = {name: clean(str(row.get(name) or "")) for name in PASSAGE_TEXT_FIELDS}
        passages.append(Passage(number=int(row.get("number") or i), score=float(row.get("score") or 0.0), **texts))
    return passages


def prompt_for(question: str, passages: list[dict], dialogue: Dialogue) -> list[dict]:
    """The serving conversation up to the answer: question, search call and its result (the question alone
    for a request for a person, which the assistant hands over without searching)."""
    if not passages and dialogue.is_handoff_request(question):
        return [{"role": "user", "content": question}]
    return dialogue.after_search(question, rebuild_passages(passages), system=False)


def make_pair(prompt: list[dict], chosen: str, rejected: str, kind: str, source: str) -> dict:
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": chosen}],
        "rejected": [{"role": "assistant", "content": rejected}],
        "kind": kind,
        "source": source,
    }


def latest_ups(rows: list[dict]) -> dict[str, dict]:
    """The most recent usable thumbs-up row for each question (rows are oldest first)."""
    ups = {}
    for row in rows:
        if row["rating"] == 1 and clean(row["question"]) and clean(row["answer"]):
            ups[same_question_key(clean(row["question"]))] = row
    return ups


def down_pairs(row: dict, up: dict | None, export: Export) -> str | None:
    """Add the pairs one thumbs-down row gives; returns why it gave none, or None."""
    source, question, answer = f"feedback:{row['id']}", clean(row["question"]), clean(row["answer"])
    better = clean(row.get("better_answer"))
    gave = False
    if better and better != answer:
        export.add(make_pair(prompt_for(question, row["passages"], export.dialogue), better, answer, "better_answer", source))
        gave = True
    if up is not None and clean(up["answer"]) != answer:
        up_prompt = prompt_for(clean(up["question"]), up["passages"], export.dialogue)
        export.add(make_pair(up_prompt, clean(up["answer"]), answer, "rated", f"feedback:{up['id']},{row['id']}"))
        gave = True
    if gave:
        return None
    if better:
        return "thumbs-down whose better answer is the same as the answer"
    if up is not None:
        return "thumbs-down whose answer was also rated up"
    return "thumbs-down with no better answer and no thumbs-up to the same question"


def feedback_pairs(rows: list[dict], export: Export) -> None:
    """`better_answer` and `rated` pairs from thumbs up/down rows (oldest first)."""
    ups, used_ups = latest_ups(rows), set()
    for row in rows:
        source, question, answer = f"feedback:{row['id']}", clean(row["question"]), clean(row["answer"])
        if not question or not answer:
            export.skip(source, "empty question or answer")
        elif row["rating"] == -1:
            up = ups.get(same_question_key(question))
            reason = down_pairs(row, up, export)
            if reason:
                export.skip(source, reason)
            if up is not None and clean(up["answer"]) != answer:
                used_ups.add(up["id"])
    for row in rows:
        if row["rating"] == 1 and clean(row["question"]) and clean(row["answer"]) and row["id"] not in used_ups:
            newest = ups[same_question_key(clean(row["question"]))]["id"] == row["id"]
            reason = "with no thumbs-down to the same question" if newest else "replaced by a newer thumbs-up"
            export.skip(f"feedback:{row['id']}", f"thumbs-up {reason}")


def comparison_pairs(rows: list[dict], export: Export) -> None:
    """`compare` pairs from admin Compare-view picks."""
    for row in rows:
        source, question = f"comparison:{row['id']}", clean(row["question"])
        a, b, written = clean(row["answer_a"]), clean(row["answer_b"]), clean(row.get("better_answer"))
        if not question or not a or not b or (row["choice"] == "written" and not written):
            export.skip(source, "empty question or answer")
            continue
        prompt = prompt_for(question, row["passages"], export.dialogue)
        if row["choice"] in ("a", "b"):
            chosen, rejected = (a, b) if row["choice"] == "a" else (b, a)
            if chosen == rejected:
                export.skip(source, "both answers are the same")
            else:
                export.add(make_pair(prompt, chosen, rejected, "compare", source))
            continue
        others = list(dict.fromkeys(side for side in (a, b) if side != written))
        if not others:
            export.skip(source, "written answer is the same as both answers")
        for side in others:
            export.add(make_pair(prompt, written, side, "compare", source))


def build_pairs(store: FeedbackStore, dialogue: Dialogue, since_id: int = 0) -> Export:
    """Every pair the store gives: feedback rows after `since_id`, and all comparisons."""
    export = Export(dialogue=dialogue)
    feedback_pairs(store.feedback(since_id), export)
    comparison_pairs(store.comparisons(), export)
    return export


def write_jsonl(pairs: list[dict], out: Path) -> None:
    """Write all lines to a temporary file beside `out`, then rename it: readers never see half a file."""
    write_atomically(out, "".join(json.dumps(pair, ensure_ascii=False) + "\n" for pair in pairs))


def open_store(db: str | Path | None) -> FeedbackStore:
    """The feedback database at `db` (default path when empty); never creates a new one."""
    path = Path(db) if db else default_path()
    if not path.is_file():
        raise FeedbackExportError(
            f"No feedback database at {path}. {COLLECT_HINT} Or give another database: --db "
            "(--feedback_db for training.dpo), or DESKMATE_FEEDBACK_DB."
        )
    try:
        return FeedbackStore(path)
    except FeedbackStoreError as exc:
        raise FeedbackExportError(str(exc)) from exc


def export_pairs(db: str | Path | None = None, out: str | Path | None = None, since_id: int = 0,
                 dialogue: Dialogue | None = None) -> tuple[Path, Export]:
    """Build the pairs from the database and write them to `out`; returns `(out, export)`. `dialogue`
    defaults to the one configs/assistant.yaml serves."""
    if dialogue is None:
        from assistant.config import load_config

        dialogue = Dialogue.from_config(load_config([])[0])
    store = open_store(db)
    try:
        export = build_pairs(store, dialogue, since_id)
    finally:
        store.close()
    out = Path(out) if out else default_out()
    write_jsonl(export.pairs, out)
    return out, export


def resolve_feedback_data(cfg) -> dict | None:
    """Replace a `feedback` entry of `cfg.data` with a fresh export of `cfg.feedback_db`; returns what was used.

    Call it before the run starts, so the saved settings name the exported file and the
    manifest hashes it. A resumed run keeps the file its saved settings name.
    """
    if FEEDBACK_DATA not in cfg.data or cfg.resume:
        return None
    db = Path(cfg.feedback_db) if cfg.feedback_db else default_path()
    out, export = export_pairs(db, dialogue=cfg.served_dialogue())
    if not export.pairs:
        raise FeedbackExportError(f"The feedback database {db} gave no preference pairs.\n{export.summary()}")
    cfg.data = list(dict.fromkeys(str(out) if entry == FEEDBACK_DATA else entry for entry in cfg.data))
    return {"db": str(db), "file": str(out), "pairs": dict(Counter(p["kind"] for p in export.pairs)),
            "rows_without_pair": len(export.skipped)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training.preferences", description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="", help="feedback database (default: %s)" % default_path())
    parser.add_argument("--out", default="", help="pairs file to write (default: %s)" % default_out())
    parser.add_argument("--since_id", type=int, default=0,
                        help="only feedback rows with a larger id (Compare-view picks are always all read)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        out, export = export_pairs(args.db, args.out, args.since_id)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(export.summary(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
