"""Check the evaluation files in data/eval/ for mistakes and for overlap with the training data.

    python3 data/tools/check_eval.py                          # every data/eval/*.jsonl
    python3 data/tools/check_eval.py data/eval/hard.jsonl     # only the files named

Standard library only; reads files, runs nothing else. For every row of every file checked:

- the fields id, question, answer, support_doc, support_text and answerable are all present,
  with the right types, and nothing else (a follow-up also has history and standalone);
- ids are unique across all data/eval/*.jsonl files;
- an answerable row has a non-empty answer, a support_doc that exists under data/kb/, and a
  support_text that is an exact substring of that article; an unanswerable row has answer "",
  support_doc null and support_text null;
- no question shares 80% or more of its lowercased word set with any user message in the
  training data (data/sft/, data/dpo/, data/refusals/) or with any other evaluation question
  (in any data/eval/*.jsonl file), and none is identical to one.

hard.jsonl must also keep the properties it was written for (see data/eval/README.md): every
support_text sits in the third or a later ##/### section of its article, or starts at least
1,200 characters into the file, and at least 50 rows are about an article with a near-duplicate
sibling (SIBLINGS below).

guides.jsonl must keep the properties it was written for (see data/eval/README.md): every row is
answerable, its support_doc is a long user guide under data/kb/guides/, its support_text starts at
least 3,000 characters into the guide and occurs in no other article. The guides with a
near-duplicate sibling (Arc / Arc Lite, Pods 2 / Pods Sport, Dome / Dome Max) are in SIBLINGS
too, and the summary counts the rows about them.

Prints every problem found and exits with status 1 if there are any; otherwise prints a short
summary and exits with status 0.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EVAL_DIR = ROOT / "data" / "eval"
KB_DIR = ROOT / "data" / "kb"
TRAINING_DIRS = [ROOT / "data" / "sft", ROOT / "data" / "dpo", ROOT / "data" / "refusals"]

FIELDS = {"id", "question", "answer", "support_doc", "support_text", "answerable"}
FOLLOW_UP_FIELDS = FIELDS | {"history", "standalone"}  # followups.jsonl: the earlier turns, the question alone
OVERLAP = 0.8
DEEP_CHARS = 1200
DEEP_SECTION = 3
MIN_SIBLING_ROWS = 50
GUIDES_DIR = "guides/"
GUIDE_DEEP_CHARS = 3000

# Articles with a near-duplicate sibling: a matching section that gives a different value.
SIBLINGS = {
    "troubleshooting/reset-pods-2.md": "troubleshooting/reset-pods-sport.md",
    "troubleshooting/pair-kestrel-arc.md": "troubleshooting/pair-kestrel-arc-lite.md",
    "products/dome-battery-and-charging.md": "products/dome-max-battery-and-charging.md",
    "returns/returns-uk-eu.md": "returns/returns-us-canada.md",
    "shipping/shipping-to-uk-and-eu.md": "shipping/shipping-to-us-and-canada.md",
    "warranty/standard-warranty.md": "warranty/kestrel-care-plus.md",
    "products/arc-vs-arc-lite.md": "products/pods-2-vs-pods-sport.md",
    "guides/arc-user-guide.md": "guides/arc-lite-user-guide.md",
    "guides/pods-2-user-guide.md": "guides/pods-sport-user-guide.md",
    "guides/dome-user-guide.md": "guides/dome-max-user-guide.md",
}
SIBLINGS.update({b: a for a, b in list(SIBLINGS.items())})


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("\u2019", "'")))


def close(question: str, other: str) -> bool:
    """`question` equals `other`, or 80%+ of the question's word set is in `other`'s."""
    if question.strip().lower() == other.strip().lower():
        return True
    mine = words(question)
    return bool(mine) and len(mine & words(other)) / len(mine) >= OVERLAP


def training_messages() -> list[tuple[str, str]]:
    found = []
    for folder in TRAINING_DIRS:
        for path in sorted(folder.glob("*.jsonl")):
            for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not raw.strip():
                    continue
                record = json.loads(raw)
                for message in record.get("messages") or record.get("prompt") or []:
                    if message.get("role") == "user" and isinstance(message.get("content"), str):
                        found.append((f"{path.relative_to(ROOT)}:{number}", message["content"]))
    return found


def load(path: Path, problems: list[str]) -> list[tuple[str, dict]]:
    rows = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.relative_to(ROOT)}:{number}"
        if not raw.strip():
            problems.append(f"{where}: empty line")
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as error:
            problems.append(f"{where}: not JSON ({error})")
            continue
        if not isinstance(row, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        rows.append((where, row))
    return rows


def depth(text: str, offset: int) -> int:
    """How many ##/### headings start before `offset` (the section number the offset is in)."""
    return sum(1 for m in re.finditer(r"^#{2,3} ", text, re.M) if m.start() < offset)


def check_row(where: str, row: dict, problems: list[str]) -> None:
    keys = set(row)
    expected = FOLLOW_UP_FIELDS if "history" in row else FIELDS
    if keys != expected:
        missing, extra = sorted(expected - keys), sorted(keys - expected)
        problems.append(f"{where}: fields wrong (missing {missing}, unexpected {extra})")
    for field in ("id", "question", "answer"):
        if not isinstance(row.get(field), str) or (field != "answer" and not row.get(field, "").strip()):
            problems.append(f"{where}: {field} must be a non-empty string")
    if not isinstance(row.get("answerable"), bool):
        problems.append(f"{where}: answerable must be true or false")
        return
    doc, text = row.get("support_doc"), row.get("support_text")
    if row["answerable"]:
        if not isinstance(row.get("answer"), str) or not row["answer"].strip():
            problems.append(f"{where}: answerable row needs an answer")
        if not isinstance(doc, str) or not (KB_DIR / doc).is_file():
            problems.append(f"{where}: support_doc {doc!r} is not an article in data/kb/")
        elif not isinstance(text, str) or not text.strip():
            problems.append(f"{where}: answerable row needs a support_text")
        elif text not in (KB_DIR / doc).read_text(encoding="utf-8"):
            problems.append(f"{where}: support_text is not an exact substring of {doc}: {text!r}")
    else:
        if row.get("answer") != "" or doc is not None or text is not None:
            problems.append(f'{where}: unanswerable row needs answer "", support_doc null, support_text null')


def check_hard(rows: list[tuple[str, dict]], problems: list[str]) -> tuple[int, int]:
    deep = sibling = 0
    for where, row in rows:
        doc, text = row.get("support_doc"), row.get("support_text")
        if not row.get("answerable") or not isinstance(doc, str) or not (KB_DIR / doc).is_file():
            problems.append(f"{where}: every hard.jsonl row must be answerable with a support_doc")
            continue
        article = (KB_DIR / doc).read_text(encoding="utf-8")
        offset = article.find(text) if isinstance(text, str) else -1
        if offset < 0:
            continue  # already reported by check_row
        if offset >= DEEP_CHARS or depth(article, offset) >= DEEP_SECTION:
            deep += 1
        else:
            problems.append(
                f"{where}: support_text is in section {depth(article, offset)} at character {offset} "
                f"of {doc}; hard.jsonl needs section {DEEP_SECTION}+ or character {DEEP_CHARS}+"
            )
        if doc in SIBLINGS:
            sibling += 1
    if sibling < MIN_SIBLING_ROWS:
        problems.append(f"hard.jsonl: only {sibling} rows are about an article with a near-duplicate sibling "
                        f"(need {MIN_SIBLING_ROWS})")
    return deep, sibling


def check_guides(rows: list[tuple[str, dict]], problems: list[str]) -> tuple[int, int]:
    deep = sibling = 0
    articles = {str(path.relative_to(KB_DIR)): path.read_text(encoding="utf-8")
                for path in sorted(KB_DIR.rglob("*.md"))}
    for where, row in rows:
        doc, text = row.get("support_doc"), row.get("support_text")
        if not row.get("answerable") or not isinstance(doc, str) or doc not in articles:
            problems.append(f"{where}: every guides.jsonl row must be answerable with a support_doc")
            continue
        if not doc.startswith(GUIDES_DIR):
            problems.append(f"{where}: support_doc {doc} is not a user guide under data/kb/{GUIDES_DIR}")
            continue
        offset = articles[doc].find(text) if isinstance(text, str) else -1
        if offset < 0:
            continue  # already reported by check_row
        if offset >= GUIDE_DEEP_CHARS:
            deep += 1
        else:
            problems.append(f"{where}: support_text starts at character {offset} of {doc}; "
                            f"guides.jsonl needs character {GUIDE_DEEP_CHARS}+")
        elsewhere = [other for other, body in articles.items() if other != doc and text in body]
        if elsewhere:
            problems.append(f"{where}: support_text also occurs in {', '.join(elsewhere)}")
        if doc in SIBLINGS:
            sibling += 1
    return deep, sibling


def main(argv: list[str]) -> int:
    problems: list[str] = []
    all_files = sorted(EVAL_DIR.glob("*.jsonl"))
    chosen = [Path(a).resolve() for a in argv] if argv else all_files
    for path in chosen:
        if not path.is_file():
            problems.append(f"{path}: no such file")
    loaded = {path: load(path, problems) for path in all_files if path.is_file()}
    for path in chosen:
        if path not in loaded and path.is_file():
            loaded[path] = load(path, problems)

    seen_ids: dict[str, str] = {}
    for path, rows in loaded.items():
        for where, row in rows:
            rid = row.get("id")
            if isinstance(rid, str):
                if rid in seen_ids:
                    problems.append(f"{where}: id {rid} already used at {seen_ids[rid]}")
                else:
                    seen_ids[rid] = where

    training = training_messages()
    every_question = [(where, row.get("question")) for rows in loaded.values() for where, row in rows
                      if isinstance(row.get("question"), str)]
    summary = []
    for path in chosen:
        rows = loaded.get(path, [])
        for where, row in rows:
            check_row(where, row, problems)
            question = row.get("question")
            if not isinstance(question, str):
                continue
            for other_where, other in training:
                if close(question, other):
                    problems.append(f"{where}: question {question!r} overlaps training message at "
                                    f"{other_where}: {other[:120]!r}")
            for other_where, other in every_question:
                if other_where != where and close(question, other):
                    problems.append(f"{where}: question {question!r} overlaps evaluation question at "
                                    f"{other_where}: {other!r}")
        answerable = sum(1 for _, row in rows if row.get("answerable") is True)
        line = f"{path.relative_to(ROOT)}: {len(rows)} rows, {answerable} answerable"
        if path.name == "hard.jsonl":
            deep, sibling = check_hard(rows, problems)
            line += f", {deep} deep, {sibling} about an article with a near-duplicate sibling"
        elif path.name == "guides.jsonl":
            deep, sibling = check_guides(rows, problems)
            line += (f", {deep} starting {GUIDE_DEEP_CHARS:,}+ characters into a user guide, "
                     f"{sibling} about a guide with a near-duplicate sibling")
        summary.append(line)

    for line in summary:
        print(line)
    if problems:
        print(f"\n{len(problems)} problem(s):")
        for problem in problems:
            print(f"- {problem}")
        return 1
    print(f"OK: checked against {len(training)} training user messages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
