"""Generate contrast data: the same question answered from its passages, and declined without them.

    PYTHONPATH=. .venv/bin/python data/tools/make_contrast.py

For every dialogue in data/sft with one customer question, one search and a final answer
that cites passages, it makes a second version whose tool result has the cited passages
taken out and replaced by the next results of the real search for the question
(`retrieval.search.Searcher` over data/kb, min_score 0.0), and writes:

- data/contrast/sft.jsonl: both dialogues, the first as it is (the answer, from passages
  that hold it), the second ending in the served decline;
- data/contrast/dpo.jsonl: two pairs. `needless_decline`: the first prompt, chosen = the
  answer, rejected = the decline. `unanswerable`: the second prompt, chosen = the decline,
  rejected = the answer, which those passages no longer support.

So each pair of prompts differs only in whether the passages hold the answer: a model
trained on them can learn to decline from the passages, not from the question's wording. A pair is
kept only when none of its remaining passages gives the answer away: the gold answer's
key content (its numbers and most of its content words, `assistant.metrics`) is not in
them, and no sentence of it is supported by one of them (`assistant.citations.support`).

The files are opt-in, like data/refusals: `python -m training.sft --data data/sft data/contrast/sft.jsonl`,
`python -m training.dpo --data data/dpo data/contrast/dpo.jsonl`. Nothing is written when no
pair passes the checks (exit status 1).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SFT_DIR = ROOT / "data" / "sft"
SFT_OUT = ROOT / "data" / "contrast" / "sft.jsonl"
DPO_OUT = ROOT / "data" / "contrast" / "dpo.jsonl"
SERVED = "I don't know that from our help center. Would you like me to connect you with a person from our support team?"
BLOCK_RE = re.compile(r'\[(\d+)\] (.*?) \(source: (.*?)\)\n"""\n(.*?)\n"""', re.DOTALL)
MARKER_RE = re.compile(r"\[(\d+)\]")
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")
EXTRA_RESULTS = 12


def single_search(messages: list[dict]) -> int | None:
    """The index of the tool result of a one-question, one-search dialogue ending in a cited answer."""
    tools = [i for i, m in enumerate(messages) if m["role"] == "tool"]
    last = messages[-1]
    if sum(m["role"] == "user" for m in messages) != 1 or len(tools) != 1:
        return None
    if last["role"] != "assistant" or not MARKER_RE.search(last.get("content") or ""):
        return None
    return tools[0]


def gives_answer_away(blocks: list[tuple[str, str, str]], answer: str, question: str) -> bool:
    from assistant.citations import content_words, support
    from assistant.metrics import key_content_present
    from retrieval.passages import Passage

    gold = MARKER_RE.sub("", answer)
    if key_content_present(" ".join(text for _, _, text in blocks), gold, question):
        return True
    passages = [Passage(0, text, "", source, heading, "", "", 0.0) for heading, source, text in blocks]
    sentences = [s for s in SENTENCE_RE.split(gold) if len(content_words(s)) >= 3]
    return any(support(s, p) >= 0.6 for s in sentences for p in passages)


def without_cited(record: dict, searcher) -> dict | None:
    """The dialogue with its cited passages replaced by other search results, ending in a decline."""
    messages = record["messages"]
    at = single_search(messages)
    if at is None:
        return None
    blocks = BLOCK_RE.findall(messages[at]["content"])
    cited = {int(n) for n in MARKER_RE.findall(messages[-1]["content"])}
    gold = [text.strip() for n, _, _, text in blocks if int(n) in cited]
    kept = [(heading, source, text.strip()) for n, heading, source, text in blocks if int(n) not in cited]
    if not gold or not blocks:
        return None
    question = next(m["content"] for m in messages if m["role"] == "user")
    for p in searcher.search(question, EXTRA_RESULTS):
        text = p.text.strip()
        if len(kept) == len(blocks):
            break
        if any(text in g or g in text for g in gold) or any(text == t for _, _, t in kept):
            continue
        kept.append((p.title if p.section in ("", p.title) else f"{p.title} - {p.section}", p.source, text))
    if len(kept) < len(blocks) or gives_answer_away(kept, messages[-1]["content"], question):
        return None
    tool = "\n\n".join(f'[{i}] {heading} (source: {source})\n"""\n{text}\n"""' for i, (heading, source, text) in
                       enumerate(kept, 1))
    out = [dict(m) for m in messages]
    out[at] = {**out[at], "content": tool}
    out[-1] = {"role": "assistant", "content": SERVED}
    return {**record, "messages": out}


def preference(prompt_from: dict, chosen_from: dict, rejected_from: dict, kind: str) -> dict:
    """A DPO pair: the prompt of one dialogue, the final turns of two."""
    return {
        "prompt": prompt_from["messages"][:-1],
        "chosen": [chosen_from["messages"][-1]],
        "rejected": [rejected_from["messages"][-1]],
        "kind": kind,
    }


def main() -> int:
    from retrieval.config import RetrievalConfig
    from retrieval.search import Searcher

    searcher = Searcher(RetrievalConfig(kb_dir=str(ROOT / "data" / "kb"), min_score=0.0, max_per_doc=4))
    dialogues, pairs = [], []
    for path in sorted(SFT_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            declined = without_cited(record, searcher)
            if declined:
                dialogues += [record, declined]
                pairs += [preference(record, record, declined, "needless_decline"),
                          preference(declined, declined, record, "unanswerable")]
    if not dialogues:
        print("no dialogue passed the checks; nothing written", file=sys.stderr)
        return 1
    SFT_OUT.parent.mkdir(parents=True, exist_ok=True)
    for path, rows in ((SFT_OUT, dialogues), (DPO_OUT, pairs)):
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    print(f"{len(dialogues) // 2} contrast pairs: {len(dialogues)} dialogues in {SFT_OUT.relative_to(ROOT)}, "
          f"{len(pairs)} preference pairs in {DPO_OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
