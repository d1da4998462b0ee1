"""Generate refusal training data: questions the help center does not answer.

    PYTHONPATH=. .venv/bin/python data/tools/make_refusals.py

Reads the hand-written customer questions in refusal_questions.py (none answered by data/kb),
runs the real search for each one (`retrieval.search.Searcher` over data/kb, k=4,
min_score=0.0, the same settings as the other training files, so every search returns
four related passages that don't answer: realistic hard negatives) and writes:

- data/refusals/sft.jsonl: one dialogue per line, user -> search_knowledge_base call ->
  tool result (`assistant.dialogue`) -> a decline that offers a person from the support
  team. FOLLOW_UPS are two-turn dialogues: an answerable question with a short cited
  answer written from its passage, then an unanswerable follow-up and its decline.
- data/refusals/dpo.jsonl: pairs of kind "unanswerable" for other questions: prompt =
  question, search call and tool result; chosen = the decline; rejected = a confident
  invented answer that cites a passage.

Nothing is written when a check fails (exit status 1). The checks:
- no question equals, or shares 80% or more of its word set with, a question in
  data/eval/questions.jsonl, and none touches the topics of the evaluation's
  unanswerable questions (AVOID);
- the terms listed with a question (words any real answer would need) don't occur in
  data/kb;
- no question repeats another one here or in the existing training files;
- every decline matches the product's refusal pattern, cites nothing and offers a
  person from the support team;
- every cited answer's [n] exists in its tool result, the cited passage holds the
  listed text, and every number in the answer occurs in that passage; every rejected
  answer cites a passage that exists.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from refusal_questions import DPO, FOLLOW_UPS, SINGLE  # beside this script (run as a script, its folder is on the path)

ROOT = Path(__file__).resolve().parents[2]
KB_DIR = ROOT / "data" / "kb"
EVAL_FILE = ROOT / "data" / "eval" / "questions.jsonl"
SFT_OUT = ROOT / "data" / "refusals" / "sft.jsonl"
DPO_OUT = ROOT / "data" / "refusals" / "dpo.jsonl"
K = 4
SEED = 20240611

# The product's refusal detector (assistant/assistant.py).
REFUSAL_RE = re.compile(r"\b(don't|do not|can't|cannot) (know|find|answer|see)\b", re.IGNORECASE)
CITATION_RE = re.compile(r"\[(\d+)\]")

# Decline wordings. The first is the served message; most dialogues use it.
SERVED = "I don't know that from our help center. Would you like me to connect you with a person from our support team?"
REPLIES = [
    (SERVED, 60),
    ("Sorry, I can't find the answer to that in our help center. Would you like to talk to a person from our support team?", 10),
    ("That isn't covered in our help center, so I can't answer it reliably. Would you like me to connect you with a person from our support team?", 8),
    ("I don't know — our help center doesn't cover that. Would you like me to connect you with a person from our support team?", 8),
    ("I can't find that in our help center, so I'd rather not guess. Shall I connect you with a person from our support team?", 7),
    ("Sorry, I don't know that from our help center. A person from our support team can help — would you like me to connect you?", 7),
]

# Topics of the evaluation's unanswerable questions: kept out of training so the
# evaluation stays held out.
AVOID = re.compile(
    r"hiring|\bjobs?\b|careers?|\bceo\b|stock market|ticker|investor|revenue|founded|showroom|refer a friend|"
    r"referral|affiliate|influencer|merch|hoodie|bug bounty|manufactur|made in|carbon|gift ?wrap|loyalty|"
    r"military|veteran|teacher|dolby|atmos|spatial|head tracking|impedance|\bohms?\b|frequency response|"
    r"decibel|\bdb\b|latency|ps5|playstation|xbox|console|gaming|boom mic|soundbar|\bamp\b|\bdac\b|"
    r"wall mount|bracket|alexa|google assistant|\bsiri\b|voice command|le audio|auracast|hearing aid|"
    r"hearing test|volume limit|store credit card|sample rate|bit depth|\bbeta\b|product idea|speakerphone",
    re.IGNORECASE,
)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("’", "'")))


def close_to(question: str, others: list[str]) -> str | None:
    """An eval question equal to `question` or sharing 80%+ of a word set with it (either way round)."""
    mine = words(question)
    for other in others:
        theirs = words(other)
        if question.strip().lower() == other.strip().lower():
            return other
        shared = len(mine & theirs)
        if mine and theirs and max(shared / len(mine), shared / len(theirs)) >= 0.8:
            return other
    return None


def kb_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(KB_DIR.rglob("*.md"))).lower()


def in_kb(term: str, kb: str) -> bool:
    return re.search(r"(?<![a-z0-9])" + re.escape(term.lower()), kb) is not None


def existing_training_questions() -> set[str]:
    seen = set()
    for path in sorted((ROOT / "data" / "sft").glob("*.jsonl")) + sorted((ROOT / "data" / "dpo").glob("*.jsonl")):
        if path in (SFT_OUT, DPO_OUT):
            continue
        for raw in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(raw)
            for m in record.get("messages") or record.get("prompt") or []:
                if m["role"] == "user":
                    seen.add(m["content"].strip().lower())
    return seen


def reply_cycle(count: int, rng: random.Random) -> list[str]:
    """`count` decline wordings in the proportions of REPLIES, shuffled."""
    total = sum(w for _, w in REPLIES)
    out = []
    for text, weight in REPLIES:
        out += [text] * round(count * weight / total)
    while len(out) < count:
        out.append(SERVED)
    out = out[:count]
    rng.shuffle(out)
    return out


def check_decline(text: str) -> list[str]:
    problems = []
    if not REFUSAL_RE.search(text):
        problems.append("decline doesn't match the refusal pattern")
    if CITATION_RE.search(text):
        problems.append("decline cites a passage")
    if "support team" not in text or "person" not in text:
        problems.append("decline doesn't offer a person from the support team")
    return problems


def main() -> int:
    from retrieval.config import RetrievalConfig
    from retrieval.index import ensure_index
    from assistant.dialogue import Dialogue
    from retrieval.search import Searcher

    dialogue = Dialogue(top_k=K)  # the served messages: search call and passages as the assistant writes them

    problems: list[str] = []
    kb = kb_text()
    eval_questions = [json.loads(line)["question"] for line in EVAL_FILE.read_text(encoding="utf-8").splitlines()
                      if line.strip()]
    trained = existing_training_questions()

    unanswerable = [(q, a) for q, _, a in SINGLE] + [(f["second"], f["absent"]) for f in FOLLOW_UPS] + \
                   [(q, a) for q, _, _, a in DPO]
    all_questions = [q for q, _ in unanswerable] + [f["first"] for f in FOLLOW_UPS]
    for question in all_questions:
        hit = close_to(question, eval_questions)
        if hit:
            problems.append(f"{question!r} is too close to the eval question {hit!r}")
        if AVOID.search(question):
            problems.append(f"{question!r} touches a topic of the eval's unanswerable questions")
        if question.strip().lower() in trained:
            problems.append(f"{question!r} is already in the training data")
    seen = set()
    for question in all_questions:
        if question.lower() in seen:
            problems.append(f"{question!r} appears twice")
        seen.add(question.lower())
    for question, absent in unanswerable:
        for term in absent:
            if in_kb(term, kb):
                problems.append(f"{question!r}: the knowledge base mentions {term!r}; check it doesn't answer")

    cfg = RetrievalConfig(kb_dir=str(KB_DIR), min_score=0.0, min_passage_score=0.0)
    ensure_index(cfg)
    searcher = Searcher(cfg)

    def search(query: str):
        passages = searcher.search(query, K)
        if len(passages) != K:
            problems.append(f"search {query!r} returned {len(passages)} passages, not {K}")
        return passages

    rng = random.Random(SEED)
    sft_lines = []
    declines = reply_cycle(len(SINGLE) + len(FOLLOW_UPS), rng)
    for (question, query, _), decline in zip(SINGLE, declines):
        passages = search(query)
        sft_lines.append({"messages": [
            {"role": "user", "content": question},
            dialogue.search_call(query),
            dialogue.search_result(passages),
            {"role": "assistant", "content": decline},
        ]})
    for f, decline in zip(FOLLOW_UPS, declines[len(SINGLE):]):
        first = search(f["first_query"])
        cited = [p for p in first if all(n in p.text for n in f["needles"])]
        if not cited:
            problems.append(f"{f['first']!r}: no passage for {f['first_query']!r} holds {f['needles']}")
            continue
        n = cited[0].number
        answer = f["answer"].format(n=n)
        for number in re.findall(r"\d+(?:\.\d+)*", CITATION_RE.sub("", answer)):
            if not re.search(r"(?<![\d.])" + re.escape(number) + r"(?!\d|\.\d)", cited[0].text):
                problems.append(f"{f['first']!r}: {number} is not in passage [{n}]")
        second = search(f["second_query"])
        sft_lines.append({"messages": [
            {"role": "user", "content": f["first"]},
            dialogue.search_call(f["first_query"]),
            dialogue.search_result(first),
            {"role": "assistant", "content": answer},
            {"role": "user", "content": f["second"]},
            dialogue.search_call(f["second_query"], "call_1"),
            dialogue.search_result(second, "call_1"),
            {"role": "assistant", "content": decline},
        ]})

    dpo_lines = []
    for (question, query, rejected, _), chosen in zip(DPO, reply_cycle(len(DPO), rng)):
        passages = search(query)
        numbers = [int(x) for x in CITATION_RE.findall(rejected)]
        if not numbers or any(not 1 <= x <= len(passages) for x in numbers):
            problems.append(f"{question!r}: rejected answer must cite a passage among 1-{len(passages)}")
        dpo_lines.append({
            "prompt": dialogue.after_search(question, passages, query, system=False),
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
            "kind": "unanswerable",
        })

    for decline in {line["messages"][-1]["content"] for line in sft_lines} | {line["chosen"][0]["content"] for line in dpo_lines}:
        problems += [f"{decline!r}: {p}" for p in check_decline(decline)]
    if len(sft_lines) < 90 or len(dpo_lines) < 40:
        problems.append(f"only {len(sft_lines)} dialogues and {len(dpo_lines)} pairs; want at least 90 and 40")

    if problems:
        print("\n".join(f"error: {p}" for p in problems), file=sys.stderr)
        return 1
    for path, lines in ((SFT_OUT, sft_lines), (DPO_OUT, dpo_lines)):
        path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    two_turn = sum(1 for line in sft_lines if len(line["messages"]) > 4)
    print(f"wrote {len(sft_lines)} dialogues ({two_turn} two-turn) to {SFT_OUT.relative_to(ROOT)}")
    print(f"wrote {len(dpo_lines)} pairs to {DPO_OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
