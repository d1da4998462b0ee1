"""Text pieces the grounding checks share: sentences, content tokens, numbers and negations.

Tokens are the search's own (`retrieval.hybrid.tokenize`: lower-case, stopwords out, a light
suffix strip), so "refunds" in an answer meets "refund" in a passage the same way the keyword
search matched them.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from retrieval.hybrid import tokenize

MARKER_RE = re.compile(r"\s?\[(\d{1,2})\]")
NUMBER_RE = re.compile(r"\d+(?:[.,:]\d+)*")
SENTENCE_END_RE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
TABLE_RULE_RE = re.compile(r"^\|?[\s:|-]+\|?$")
LIST_MARK_RE = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
NEGATION_RE = re.compile(
    r"\b(not|no|never|none|nothing|neither|nor|without|cannot|can't|won't|don't|doesn't|didn't|isn't|aren't|"
    r"wasn't|weren't|shouldn't|couldn't|wouldn't|mustn't|unable|impossible)\b|n't\b",
    re.IGNORECASE,
)
LINK_RE = re.compile(r"\[([^\]]+)\]\([^)\s]+\)")
POINTER_RE = re.compile(r"\b(see|read|visit|check)\s+(the\s+)?\[[^\]]+\]\(", re.IGNORECASE)
MIN_SENTENCE_TOKENS = 2
MIN_STATEMENT_WORDS = 5


def strip_markers(text: str) -> str:
    return MARKER_RE.sub("", text or "")


def tokens(text: str) -> list[str]:
    """Content tokens of a text, citation markers removed."""
    return tokenize(strip_markers(text))


def numbers(text: str) -> set[str]:
    """The numbers a text states ("1,200" and "1200" are the same number)."""
    return {n.replace(",", "").rstrip(".") for n in NUMBER_RE.findall(strip_markers(text))}


def is_negated(text: str) -> bool:
    return bool(NEGATION_RE.search(text or ""))


def clean_line(line: str) -> str:
    """A Markdown line as plain text: list marks, heading marks, emphasis and table pipes removed."""
    line = LIST_MARK_RE.sub("", line.strip())
    line = line.lstrip("#> ").replace("**", "").replace("__", "").replace("`", "")
    if line.startswith("|"):
        line = " | ".join(cell.strip() for cell in line.strip("|").split("|") if cell.strip())
    return line.strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage or an answer: lines first (lists, tables, headings), then sentence ends."""
    sentences = []
    for line in (text or "").splitlines():
        if not line.strip() or TABLE_RULE_RE.match(line.strip()) or line.strip() in ('"""',):
            continue
        for piece in SENTENCE_END_RE.split(clean_line(line)):
            if len(tokens(piece)) >= MIN_SENTENCE_TOKENS or numbers(piece):
                sentences.append(piece.strip())
    return sentences


def cells(line: str) -> list[str]:
    return [cell.strip().replace("**", "") for cell in line.strip().strip("|").split("|")]


def table_row(header: list[str], row: list[str]) -> str:
    """A table row as a sentence that names its columns: "Payment method: PayPal; Time to appear: 1–3 days"."""
    parts = [f"{name}: {value}" if name else value for name, value in zip(header, row) if value]
    return "; ".join(parts) + "."


def is_pointer(sentence: str) -> bool:
    """A sentence that only points elsewhere: "For card refunds, see [Refund timelines](...)", or mostly links."""
    linked = sum(len(text.split()) for text in LINK_RE.findall(sentence))
    return bool(POINTER_RE.search(sentence)) or linked >= 0.4 * len(LINK_RE.sub(r"\1", sentence).split())


def statement_sentences(text: str) -> list[str]:
    """The sentences of a passage that state something: headings, table header rows, bold labels,
    questions (FAQ headings), lead-ins ending in a colon, short label-like pieces without a number and
    pointers that are mostly links left out; a table row is read with its column names, a link as its text."""
    lines = [line.strip() for line in (text or "").splitlines()]
    following = [next((n for n in lines[i + 1:] if n), "") for i in range(len(lines))]
    found, header = [], []
    for line, after in zip(lines, following):
        if line.startswith("|") and TABLE_RULE_RE.match(after):
            header = cells(line)
            continue
        if not line.startswith("|"):
            header = []
        elif header and not TABLE_RULE_RE.match(line):
            line = table_row(header, cells(line))
        if not line or line.startswith("#") or (line.startswith("**") and line.rstrip(":").endswith("**")):
            continue
        for piece in split_sentences(line):
            if piece.endswith(("?", ":")) or (len(piece.split()) < MIN_STATEMENT_WORDS and not numbers(piece)):
                continue
            if not is_pointer(piece):
                found.append(LINK_RE.sub(r"\1", piece))  # a link reads as its text
    return found


ECHO_RE = re.compile(r"<\/?tool_|[(\[]source:|^#", re.IGNORECASE)


def said_already(words: set[str], earlier: list[set[str]], asked: set[str] = frozenset()) -> bool:
    """Whether a sentence with these words was said before: most of them (80%) are one earlier sentence's,
    and what it adds is not what the customer now asks about. "When two devices are connected, the
    assistant of the device that most recently played audio answers" after "audio plays from the device
    that most recently started playing" is new when the question is which one *answers*."""
    return any(len(words & before) >= 0.8 * len(words) and not (words - before) & asked for before in earlier)


def draft_sentences(text: str, said_before: str = "", asked: str = "") -> list[str]:
    """The sentences of a model's draft, citation markers kept: echoed headings, tool markup and
    passage headers left out, and a sentence said again (same words) kept once. Sentences of
    `said_before` (the conversation's earlier answers) count as said unless what they add is what
    `asked` (the latest message) asks about (`said_already`): a new question never gets an earlier
    answer again."""
    earlier = [set(tokens(piece)) for piece in split_sentences(said_before or "")]
    asked_words = set(tokens(asked))
    found, seen = [], []
    for line in (text or "").splitlines():
        if ECHO_RE.search(line.strip()):
            continue
        for piece in split_sentences(line):
            words = set(tokens(piece))
            if piece.endswith("?") or said_already(words, seen) or said_already(words, earlier, asked_words):
                continue
            seen.append(words)
            found.append(piece)
    return found


class Vocabulary:
    """Inverse document frequencies of the knowledge base's tokens (one document = one chunk)."""

    def __init__(self, idf: dict[str, float], unknown: float):
        self.idf, self.unknown = idf, unknown

    @classmethod
    def from_texts(cls, texts: list[str]) -> "Vocabulary":
        df = Counter(t for text in texts for t in set(tokenize(text)))
        n = max(len(texts), 1)
        idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        return cls(idf, math.log((n + 1) / 0.5))

    def weight(self, token: str) -> float:
        return self.idf.get(token, self.unknown)

    def coverage(self, query: list[str], found: set[str]) -> float:
        """The share of the query tokens' weight that appears in `found`."""
        total = sum(self.weight(t) for t in set(query))
        return sum(self.weight(t) for t in set(query) if t in found) / total if total else 0.0

    def to_dict(self) -> dict:
        return {"idf": self.idf, "unknown": self.unknown}

    @classmethod
    def from_dict(cls, data: dict) -> "Vocabulary":
        return cls(dict(data["idf"]), float(data["unknown"]))
