"""The passages' own words: the sentences closest to the question, quoted and cited.

This is the answer when none of the model's sentences survives the support check, and the
`extractive` row of `assistant.evaluate` (no model at all): the floor every answer should beat.
"""

from __future__ import annotations

import numpy as np

from retrieval.search import Passage

from .signals import Encoder
from .text import Vocabulary, statement_sentences, tokens

PASSAGES_READ = 3
WORD_WEIGHT = 0.5
RANK_WEIGHT = 0.05
KEEP_WITHIN = 0.3


def candidate_sentences(passages: list[Passage]) -> list[tuple[str, Passage]]:
    seen, found = set(), []
    for passage in passages[:PASSAGES_READ]:
        for sentence in statement_sentences(passage.text):
            if sentence.lower() not in seen:
                seen.add(sentence.lower())
                found.append((sentence, passage))
    return found


def closest_sentences(question: str, passages: list[Passage], encoder: Encoder, vocabulary: Vocabulary,
                      count: int = 2, word_weight: float = WORD_WEIGHT, rank_weight: float = RANK_WEIGHT,
                      keep_within: float = KEEP_WITHIN) -> list[tuple[str, Passage]]:
    """The `count` passage sentences closest to the question: embedding cosine, plus the share of the
    question's rare words they contain, minus a little for each place their passage ranks lower.
    Sentences scoring more than `keep_within` below the best are left out (they cite weaker passages)."""
    candidates = candidate_sentences(passages)
    if not candidates:
        return []
    vectors = encoder.sentence_vectors([question] + [s for s, _ in candidates])
    cosine = vectors[1:] @ vectors[0]
    asked = tokens(question)
    words = np.asarray([vocabulary.coverage(asked, set(tokens(s))) for s, _ in candidates])
    rank = {p.number: i for i, p in enumerate(passages)}
    lower = np.asarray([rank[p.number] for _, p in candidates], dtype=float)
    score = cosine + word_weight * words - rank_weight * lower
    order = [i for i in np.argsort(-score, kind="stable")[:count] if score[i] >= score.max() - keep_within]
    return [candidates[i] for i in sorted(order)]


def quoted(sentence: str) -> str:
    """The passage's words in quotation marks (once, when the sentence already is a quotation)."""
    return f'"{sentence.strip().strip(chr(34))}"'


def quote(sentences: list[tuple[str, Passage]]) -> str:
    """`"sentence" [n]` for each sentence, in the order given."""
    return " ".join(f"{quoted(s)} [{p.number}]" for s, p in sentences)
