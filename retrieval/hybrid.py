"""The keyword half of hybrid search, score and rank fusion, and near-duplicate collapsing.

BM25 comes from `rank_bm25`. Fusion only orders the candidates; the dense cosine similarity
stays the score that the relevance floor is checked against.
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
    """BM25 over the embedding texts of every chunk, rows aligned with the dense matrix.

    `rank_bm25` fits the statistics (idf, lengths, k1, b); scoring walks only the postings of
    the query's terms instead of every document per term, which keeps a query at 10,000
    chunks in the low milliseconds. `scores` equals `BM25Okapi.get_scores`.
    """

    def __init__(self, texts: list[str]):
        from rank_bm25 import BM25Okapi

        corpus = [tokenize(t) or ["_"] for t in texts]
        self.bm25 = BM25Okapi(corpus) if corpus else None
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if self.bm25 is None:
            return
        rows: dict[str, list] = {}
        for row, freqs in enumerate(self.bm25.doc_freqs):
            for term, tf in freqs.items():
                rows.setdefault(term, []).append((row, tf))
        self.postings = {t: (np.array([r for r, _ in p]), np.array([f for _, f in p], dtype=np.float64)) for t, p in rows.items()}
        bm = self.bm25
        self.norm = bm.k1 * (1 - bm.b + bm.b * np.asarray(bm.doc_len, dtype=np.float64) / bm.avgdl)

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every row for the query tokens (zeros where no term matches)."""
        total = np.zeros(self.bm25.corpus_size if self.bm25 else 0)
        for term in tokens:
            if term not in self.postings:
                continue
            rows, tf = self.postings[term]
            total[rows] += (self.bm25.idf.get(term) or 0) * (tf * (self.bm25.k1 + 1) / (tf + self.norm[rows]))
        return total

    def top(self, query: str, n: int) -> list[int]:
        """Row numbers of the `n` best keyword matches (only rows sharing a term with the query)."""
        tokens = tokenize(query)
        if self.bm25 is None or not tokens:
            return []
        return best_rows(self.scores(tokens), n)


def best_rows(scores: np.ndarray, n: int) -> list[int]:
    """Positions of the `n` highest positive scores, best first."""
    n = min(n, len(scores))
    if n == 0:
        return []
    best = np.argpartition(-scores, n - 1)[:n]
    best = best[np.argsort(-scores[best], kind="stable")]
    return [int(i) for i in best if scores[i] > 0]


def reciprocal_rank_fusion(rankings: list[list[int]], k: int) -> list[int]:
    """Rows ordered by the sum of 1 / (k + rank) over the rankings they appear in."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(ranking, 1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    return sorted(fused, key=lambda row: -fused[row])


def relative_score_fusion(signals: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """Positions of the candidates ordered by the weighted sum of their signals, each scaled to
    0-1 over the candidates (min-max), so a strong keyword or title match counts by how strong it
    is, not only by its rank; the first signal breaks ties."""
    total = np.zeros(len(signals[0][1]))
    for weight, values in signals:
        spread = values.max() - values.min() if len(values) else 0.0
        if weight and spread > 0:
            total += weight * (values - values.min()) / spread
    return np.lexsort((-signals[0][1], -total))


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
