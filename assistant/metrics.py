"""Scores of one assistant answer against a gold question, and their summary over a run.

A question is `{"id", "question", "answer", "support_doc", "support_text"?, "answerable"?}`,
a follow-up also has `history` and `standalone` (data/README.md, data/eval/README.md). Scoring needs only the final `Answer` and the model's raw text, so it
works for any knowledge base and any backend:

- token-F1: SQuAD-style overlap of the answer (citation markers removed) with the gold answer;
- key content: every number of the gold answer appears in the answer, and at least half of
  the gold answer's content words that the question does not already contain;
- a passage *supports* a question when it comes from `support_doc` or contains `support_text`;
  retrieval recall@5 asks whether one of the first five passages the assistant retrieved does;
- tool-call validity: the share of search turns (the first turn of every question, and any
  later turn that opens a tool call) in which the model wrote a well-formed search call;
- refusal: the assistant's own judgement (`Answer.refused`), or a handoff;
- supported sentences: of the sentences shown in answers that are not refusals, the share
  whose every number and at least 70% of content words appear in a document the sentence
  cites (a sentence without a citation is unsupported). Defined here on its own, without
  the serving verifier, so the checks are measured by something they do not share code with.
"""

from __future__ import annotations

import re
import statistics
import string
from collections import Counter

from retrieval.recall import is_answerable  # noqa: F401 - the one definition, used here and by importers

from .citations import MARKER_RE, content_words

NUMBER_RE = re.compile(r"\d+(?:[.,:]\d+)*")
PERSON_RE = re.compile(
    r"\b(connect|transfer|put|hand) (you|this)\b.{0,30}\b(person|human|agent|team|colleague)"
    r"|\b(person|human|agent|colleague) from our\b",
    re.IGNORECASE,
)
KEY_WORDS_NEEDED = 0.5
SUPPORTED_WORDS_NEEDED = 0.7
# A sentence ends at . ! or ? (and a closing quote), unless citation markers follow, which belong to it.
SHOWN_SENTENCE_RE = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')])|(?<=\]))\s+(?!\[\d)(?=[\"'(A-Z0-9])")

# (key, label, direction): direction +1 = higher is better, -1 = lower is better, 0 = informative only.
METRICS = [
    ("recall@5", "retrieval recall@5", +1),
    ("token_f1", "answer token-F1", +1),
    ("key_content", "key content present", +1),
    ("tool_call_validity", "tool-call validity", +1),
    ("citation_rate", "citation rate", +1),
    ("model_citation_rate", "citation rate (model-written [n])", +1),
    ("citation_precision", "citation precision", +1),
    ("citation_recall", "citation recall", +1),
    ("supported_sentences", "supported sentences", +1),
    ("refusal_accuracy", "refusal accuracy (unanswerable)", +1),
    ("false_refusal_rate", "false refusals (answerable)", -1),
    ("repeated_answer_rate", "follow-ups given an earlier answer again", -1),
    ("handoff_rate", "handoff offered", 0),
    ("latency_p50_s", "latency p50 (s)", 0),
    ("latency_p95_s", "latency p95 (s)", 0),
    ("tokens_per_s", "tokens/s", 0),
]


def normalize_tokens(text: str) -> list[str]:
    """Lower-case words without punctuation, articles or citation markers."""
    text = MARKER_RE.sub(" ", text or "").lower()
    text = "".join(" " if ch in string.punctuation else ch for ch in text)
    return [w for w in text.split() if w not in ("a", "an", "the")]


def token_f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_tokens(prediction), normalize_tokens(gold)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER_RE.findall(MARKER_RE.sub(" ", text or ""))}


def key_content_present(prediction: str, gold: str, question: str) -> bool:
    """The gold answer's numbers all appear, and most of its new content words do."""
    if not numbers(gold) <= numbers(prediction):
        return False
    key_words = content_words(gold) - content_words(question)
    if not key_words:
        return True
    return len(key_words & content_words(MARKER_RE.sub(" ", prediction))) / len(key_words) >= KEY_WORDS_NEEDED


def squash(text: str) -> str:
    return " ".join((text or "").lower().split())


def supports(passage: dict, question: dict) -> bool:
    """A passage from the support document, or one that contains the support text."""
    if question.get("support_doc") and passage.get("source") == question["support_doc"]:
        return True
    support_text = squash(question.get("support_text") or "")
    return bool(support_text) and support_text in squash(passage.get("text", ""))


def sentence_supported(sentence: str, cited_documents: list[str]) -> bool:
    """Every number and at least 70% of the content words of the sentence appear in one cited document."""
    words = content_words(MARKER_RE.sub(" ", sentence))
    for document in cited_documents:
        if numbers(sentence) <= numbers(document) and (
            not words or len(words & content_words(document)) >= SUPPORTED_WORDS_NEEDED * len(words)
        ):
            return True
    return False


def sentence_support(text: str, passages: list[dict], documents: dict[str, str]) -> tuple[int, int]:
    """(supported, shown) sentences of an answer; a sentence cites the documents of the passages it names."""
    by_number = {p["number"]: p for p in passages}
    supported = shown = 0
    for sentence in SHOWN_SENTENCE_RE.split(text.strip()):
        if not content_words(MARKER_RE.sub(" ", sentence)):
            continue
        shown += 1
        sources = [by_number[int(n)]["source"] for n in MARKER_RE.findall(sentence) if int(n) in by_number]
        cited = [documents.get(source) or by_number_text(by_number, source) for source in dict.fromkeys(sources)]
        supported += sentence_supported(sentence, cited)
    return supported, shown


def by_number_text(by_number: dict, source: str) -> str:
    """The retrieved passages of a document, where the document itself is not at hand."""
    return "\n".join(p["text"] for p in by_number.values() if p["source"] == source)


def score_answer(question: dict, answer, raw_text: str, documents: dict[str, str] | None = None) -> dict:
    """One JSON-ready row: what was answered and how it scores against the question."""
    passages = [p.to_dict() for p in answer.passages]
    by_number = {p["number"]: p for p in passages}
    cited = [by_number[c.number] for c in answer.citations if c.number in by_number]
    model_cited = {int(n) for n in MARKER_RE.findall(raw_text or "")} & set(by_number)
    usage, timings = answer.usage or {}, answer.timings or {}
    generation_s = max(timings.get("total_s", 0.0) - timings.get("search_s", 0.0), 1e-9)
    row = {
        "id": question.get("id"),
        "question": question["question"],
        "answerable": is_answerable(question),
        "answer": answer.text,
        "raw": raw_text,
        "citations": [c.number for c in answer.citations],
        "retrieved": [p["source"] for p in passages],
        "refused": bool(answer.refused or answer.handoff),
        "offers_person": bool(answer.handoff or PERSON_RE.search(answer.text)),
        "searches": usage.get("searches", 0),
        "search_turns": usage.get("search_turns", 0),
        "valid_tool_calls": usage.get("valid_tool_calls", 0),
        "completion_tokens": usage.get("completion_tokens", 0),
        "latency_s": timings.get("total_s", 0.0),
        "generation_s": generation_s,
    }
    if not row["refused"]:
        row["supported_sentences"], row["shown_sentences"] = sentence_support(answer.text, passages, documents or {})
    if row["answerable"]:
        row.update(
            recall_hit=any(supports(p, question) for p in passages[:5]),
            token_f1=token_f1(answer.text, question.get("answer", "")),
            key_content=key_content_present(answer.text, question.get("answer", ""), question["question"]),
            cited=bool(cited),
            model_cited=bool(model_cited),
            supported_citations=sum(supports(p, question) for p in cited),
            support_retrieved=any(supports(p, question) for p in passages),
            cites_support=any(supports(p, question) for p in cited),
        )
    return row


def _mean(values: list) -> float | None:
    return sum(values) / len(values) if values else None


def _ratio(rows: list[dict], part: str, whole: str) -> float | None:
    total = sum(r.get(whole, 0) for r in rows)
    return sum(r.get(part, 0) for r in rows) / total if total else None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def repeats_earlier_answer(answer: str, earlier_answers: list[str]) -> bool:
    """The answer says again what an earlier answer of the conversation said (80% of its content words), though
    the customer asked something new: counted as a failure of the follow-up."""
    words = content_words(MARKER_RE.sub(" ", answer))
    return bool(words) and any(len(words & content_words(MARKER_RE.sub(" ", before))) >= 0.8 * len(words)
                               for before in earlier_answers)


def summarize(rows: list[dict]) -> dict:
    """The run's metrics from its rows (None where a metric has nothing to measure)."""
    done = [r for r in rows if "error" not in r]
    answerable = [r for r in done if r["answerable"]]
    unanswerable = [r for r in done if not r["answerable"]]
    citations = sum(len(r["citations"]) for r in answerable)
    search_turns = sum(r["search_turns"] for r in done)
    latencies = [r["latency_s"] for r in done]
    generation_s = sum(r["generation_s"] for r in done)
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "errors": len(rows) - len(done),
        "recall@5": _mean([r["recall_hit"] for r in answerable]),
        "token_f1": _mean([r["token_f1"] for r in answerable]),
        "key_content": _mean([r["key_content"] for r in answerable]),
        "tool_call_validity": sum(r["valid_tool_calls"] for r in done) / search_turns if search_turns else None,
        "citation_rate": _mean([r["cited"] for r in answerable]),
        "model_citation_rate": _mean([r["model_cited"] for r in answerable]),
        "citation_precision": sum(r["supported_citations"] for r in answerable) / citations if citations else None,
        "citation_recall": _mean([r["cites_support"] for r in answerable if r["support_retrieved"]]),
        "supported_sentences": _ratio(done, "supported_sentences", "shown_sentences"),
        "refusal_accuracy": _mean([r["refused"] for r in unanswerable]),
        "false_refusal_rate": _mean([r["refused"] for r in answerable]),
        "repeated_answer_rate": _mean([r["repeats_earlier"] for r in done if "repeats_earlier" in r]),
        "handoff_rate": _mean([r["offers_person"] for r in done]),
        "latency_p50_s": _percentile(latencies, 0.50),
        "latency_p95_s": _percentile(latencies, 0.95),
        "tokens_per_s": sum(r["completion_tokens"] for r in done) / generation_s if generation_s else None,
    }
