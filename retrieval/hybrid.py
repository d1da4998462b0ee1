"""The keyword half of hybrid search, reciprocal-rank fusion and near-duplicate collapsing.

BM25 comes from `rank_bm25`; fusion uses ranks only, so the dense cosine similarity stays
the score that the relevance floor is checked against.
"""

from __future__ import annotations

import re

import numpy as np

TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
STOPWORDS = frozenset(
    """a an and are as at be but by can could do does for from had has have how i if in into is it its
    me my of on or our so than that the their them then there these they this to was we were what when
    where which who why will with would you your yours i'm it's don't can't""".split()
)


def _stem(word: str) -> str:
    """A light suffix strip so 'refunds'/'refunded'/'refunding' meet 'refund'."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def tokenize(text: str) -> list[str]:
    return [_stem(t) for t in TOKEN.findall(text.lower()) if t not in STOPWORDS]


class KeywordIndex:
    """BM25 over the embedding texts of every chunk, rows aligned with the dense matrix."""

    def __init__(self, texts: list[str]):
        from rank_bm25 import BM25Okapi

        corpus = [tokenize(t) or ["_"] for t in texts]
        self.bm25 = BM25Okapi(corpus) if corpus else None

    def top(self, query: str, n: int) -> list[int]:
        """Row numbers of the `n` best keyword matches (only rows sharing a term with the query)."""
        tokens = tokenize(query)
        if self.bm25 is None or not tokens:
            return []
        scores = self.bm25.get_scores(tokens)
        n = min(n, len(scores))
        best = np.argpartition(-scores, n - 1)[:n]
        best = best[np.argsort(-scores[best])]
        return [int(i) for i in best if scores[i] > 0]


def reciprocal_rank_fusion(rankings: list[list[int]], k: int) -> list[int]:
    """Rows ordered by the sum of 1 / (k + rank) over the rankings they appear in."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking, 1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    return sorted(fused, key=lambda row: -fused[row])


def shingles(text: str, size: int = 3) -> frozenset:
    words = TOKEN.findall(text.lower())
    if len(words) < size:
        return frozenset([" ".join(words)])
    return frozenset(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))


def is_near_duplicate(a: frozenset, b: frozenset, threshold: float) -> bool:
    """Containment of the smaller shingle set in the larger: catches copies and trimmed copies."""
    if threshold >= 1.0 or not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) >= threshold
