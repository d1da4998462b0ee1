"""The passages' own words: the sentences closest to the question, quoted and cited.

This is the answer when none of the model's sentences survives the support check, and the
`extractive` row of `assistant.evaluate` (no model at all): the floor every answer should beat.
"""

from __future__ import annotations

import numpy as np

from retrieval.search import Passage

from .signals import Encoder
from .text import Vocabulary, split_sentences, tokens

PASSAGES_READ = 3
WORD_WEIGHT = 0.5


def candidate_sentences(passages: list[Passage]) -> list[tuple[str, Passage]]:
    seen, found = set(), []
    for passage in passages[:PASSAGES_READ]:
        for sentence in split_sentences(passage.text):
            if sentence.lower() not in seen:
                seen.add(sentence.lower())
                found.append((sentence, passage))
    return found


def closest_sentences(question: str, passages: list[Passage], encoder: Encoder, vocabulary: Vocabulary,
                      count: int = 2) -> list[tuple[str, Passage]]:
    """The `count` passage sentences closest to the question: embedding cosine plus the share of the
    question's rare words they contain."""
    candidates = candidate_sentences(passages)
    if not candidates:
        return []
    vectors = encoder.sentence_vectors([question] + [s for s, _ in candidates])
    cosine = vectors[1:] @ vectors[0]
    asked = tokens(question)
    words = np.asarray([vocabulary.coverage(asked, set(tokens(s))) for s, _ in candidates])
    order = np.argsort(-(cosine + WORD_WEIGHT * words), kind="stable")[:count]
    return [candidates[i] for i in sorted(order)]


def quote(sentences: list[tuple[str, Passage]]) -> str:
    """`"sentence" [n]` for each sentence, in the order given."""
    return " ".join(f'"{s.rstrip()}" [{p.number}]' for s, p in sentences)
