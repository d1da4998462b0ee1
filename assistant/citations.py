"""Check that every [n] in an answer names a retrieved passage, and attribute uncited claims.

A marker naming no passage is removed. With attribution on, a sentence without a marker
gets one when a retrieved passage contains most of its content words, so every shown
[n] points at text that really supports the sentence.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from retrieval.passages import Passage

MARKER_RE = re.compile(r"\s?\[(\d{1,2})\]")
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")
WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOPWORDS = set(
    "a an the and or but if of to in on at by for with from as is are was were be been it its this that "
    "these those you your we our us i me my they them their can will would should could may might do does "
    "did not no yes so than then there here what which who how when where why".split()
)
SUPPORT_THRESHOLD = 0.6


@dataclass
class Citation:
    number: int
    doc_id: str
    title: str
    source: str
    section: str
    snippet: str
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


def content_words(text: str) -> set[str]:
    return {w for w in WORD_RE.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}


def support(sentence: str, passage: Passage) -> float:
    """Share of the sentence's content words that appear in the passage."""
    words = content_words(MARKER_RE.sub("", sentence))
    return len(words & content_words(passage.text)) / len(words) if words else 0.0


def strip_invalid_markers(text: str, valid: set[int]) -> str:
    return MARKER_RE.sub(lambda m: m.group(0) if int(m.group(1)) in valid else "", text)


def attribute(text: str, passages: list[Passage]) -> str:
    """Append [n] to each uncited sentence that a passage supports."""
    out = []
    for sentence in SENTENCE_RE.split(text.strip()):
        if sentence and not MARKER_RE.search(sentence) and len(content_words(sentence)) >= 3:
            best = max(passages, key=lambda p: support(sentence, p), default=None)
            if best is not None and support(sentence, best) >= SUPPORT_THRESHOLD:
                stripped = sentence.rstrip()
                end = len(stripped) - 1 if stripped[-1:] in ".!?" else len(stripped)
                sentence = f"{stripped[:end]} [{best.number}]{stripped[end:]}"
        out.append(sentence)
    return " ".join(out)


def verify(text: str, passages: list[Passage], attribute_uncited: bool = True) -> tuple[str, list[Citation]]:
    """Return the cleaned answer text and the citations it really makes, in number order."""
    by_number = {p.number: p for p in passages}
    text = strip_invalid_markers(text, set(by_number))
    if attribute_uncited and passages:
        text = attribute(text, passages)
    cited = sorted({int(n) for n in MARKER_RE.findall(text)})
    citations = [
        Citation(n, p.doc_id, p.title, p.source, p.section, p.text[:300], p.score)
        for n in cited
        for p in [by_number[n]]
    ]
    return text, citations
