"""Search the knowledge base: hybrid dense + BM25 ranking with a relevance floor.

    python -m retrieval.search "how do I return my headphones?" [-k 5]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from .config import RetrievalConfig, parse_config
from .documents import embedding_text
from .embeddings import embed_query
from .errors import ModelNotFoundError, UserError
from .passages import Passage, format_passages
from .hybrid import (
    KeywordIndex,
    best_rows,
    is_near_duplicate,
    reciprocal_rank_fusion,
    relative_score_fusion,
    shingles,
    tokenize,
)
from .store import open_collection, read_all, write_generation

COUNT_TTL = 1.0


class Searcher:
    """Hybrid search over the Chroma collection: dense + BM25 fused, with a relevance floor.

    Dense candidates come from Chroma and are scored by their own cosine plus `doc_weight`
    times their article's (the mean of its chunk vectors), so a passage from the article
    about the asked-for product beats a near-copy from its sibling. BM25 adds its own
    candidates. With `fusion: score` each candidate's dense score, BM25 score and its
    article title's BM25 match are scaled to 0-1 and summed with `keyword_weight` and
    `title_weight`; with `fusion: rrf` the dense and BM25 rankings are fused by rank. A
    result holds at most `max_per_doc` passages per article, which leaves room for the
    other candidate articles.

    The whole collection (texts, metadata, vectors) is read once and kept in memory for the
    keyword index and exact cosine scores; it is re-read after an indexing run in this
    process, when the collection's size changes (checked at most once a second), or after
    `refresh()`.
    """

    def __init__(self, cfg: RetrievalConfig):
        self.cfg = cfg
        self.collection = open_collection(cfg)
        self._rows: dict | None = None
        self._count: tuple[int, int, float] | None = None
        self._reranker = None

    def count(self) -> int:
        return self.collection.count()

    def _recent_count(self) -> int:
        """The collection's size, asked of Chroma at most once per `COUNT_TTL` seconds (a round
        trip of milliseconds, more to a server) unless this process wrote to an index since."""
        now = time.monotonic()
        if self._count is None or self._count[1] != write_generation() or now - self._count[2] > COUNT_TTL:
            self._count = (self.count(), write_generation(), now)
        return self._count[0]

    def refresh(self) -> None:
        """Forget the in-memory copy, e.g. after the index was rebuilt by another process."""
        self._rows = None
        self._count = None

    def _load(self, count: int) -> dict:
        stamp = (count, write_generation())
        if self._rows is None or self._rows["stamp"] != stamp:
            rows = read_all(self.collection, ["documents", "metadatas", "embeddings"])
            metas = [m or {} for m in rows["metadatas"]]
            texts = [embedding_text(m.get("title", ""), m.get("section", ""), d or "") for m, d in zip(metas, rows["documents"])]
            vectors = np.asarray(rows["embeddings"], dtype=np.float32).reshape(len(rows["ids"]), -1)
            doc_of, doc_vectors = article_vectors([m.get("doc_id", "") for m in metas], vectors)
            titles = [""] * len(doc_vectors)
            for doc, meta in zip(doc_of, metas):
                titles[doc] = meta.get("title", "")
            self._rows = {
                "stamp": stamp,
                "ids": rows["ids"],
                "row_of": {chunk_id: i for i, chunk_id in enumerate(rows["ids"])},
                "documents": rows["documents"],
                "metadatas": metas,
                "vectors": vectors,
                "doc_of": doc_of,
                "doc_vectors": doc_vectors,
                "keywords": KeywordIndex(texts) if self.cfg.hybrid else None,
                "titles": KeywordIndex(titles) if self.cfg.hybrid else None,
                "shingles": {},
            }
        return self._rows

    def chunks(self) -> list[dict]:
        """Every indexed chunk as `{"text", "source", "title", "section", "doc_id"}` (for building the grounding
        checks from the knowledge base itself)."""
        count = self._recent_count()
        if not count:
            return []
        rows = self._load(count)
        return [
            {"text": text or "", "source": meta.get("source", ""), "title": meta.get("title", ""),
             "section": meta.get("section", ""), "doc_id": meta.get("doc_id", "")}
            for text, meta in zip(rows["documents"], rows["metadatas"])
        ]

    def search(self, query: str, k: int | None = None) -> list[Passage]:
        """The best passages, numbered from 1; none when not one reaches `min_score` (cosine)."""
        k = k or self.cfg.top_k
        count = self._recent_count() if query.strip() else 0
        if count == 0:
            return []
        rows = self._load(count)
        vector = embed_query(self.cfg.embedding_model, query)
        n = min(max(self.cfg.candidates, k), count)
        dense = self.collection.query(query_embeddings=[vector], n_results=n, include=[])
        candidates = np.asarray([rows["row_of"][i] for i in dense["ids"][0] if i in rows["row_of"]], dtype=np.int64)
        order = self._fuse(query, candidates, vector, rows, n)
        cosine = rows["vectors"][order] @ vector if order else np.zeros(0)
        if not len(cosine) or cosine.max() < self.cfg.min_score:
            return []
        kept = [(row, float(score)) for row, score in zip(order, cosine) if score >= self.cfg.min_passage_score]
        if self.cfg.reranker and kept:
            kept = self._rerank(query, kept, rows)
        return self._collapse(kept, rows, k)

    def _dense_scores(self, candidates: np.ndarray, vector: np.ndarray, rows: dict) -> np.ndarray:
        """Chunk cosine plus `doc_weight` x article cosine."""
        score = rows["vectors"][candidates] @ vector
        if self.cfg.doc_weight:
            score = score + self.cfg.doc_weight * (rows["doc_vectors"][rows["doc_of"][candidates]] @ vector)
        return score

    def _fuse(self, query: str, candidates: np.ndarray, vector: np.ndarray, rows: dict, n: int) -> list[int]:
        """Dense candidates merged with the `n` best BM25 rows, best first."""
        if not len(candidates):
            return []
        dense = self._dense_scores(candidates, vector, rows)
        if rows["keywords"] is None:
            return [int(row) for row in candidates[np.argsort(-dense, kind="stable")]]
        if self.cfg.fusion == "rrf":
            dense_ranking = [int(row) for row in candidates[np.argsort(-dense, kind="stable")]]
            return reciprocal_rank_fusion([dense_ranking, rows["keywords"].top(query, n)], self.cfg.rrf_k)
        tokens = tokenize(query)
        keyword_all = rows["keywords"].scores(tokens)
        seen = set(candidates.tolist())
        extra = np.asarray([row for row in best_rows(keyword_all, n) if row not in seen], dtype=np.int64)
        if len(extra):
            candidates = np.concatenate([candidates, extra])
            dense = np.concatenate([dense, self._dense_scores(extra, vector, rows)])
        keyword_scores = keyword_all[candidates]
        title_scores = rows["titles"].scores(tokens)[rows["doc_of"][candidates]]
        order = relative_score_fusion(
            [(1.0, dense), (self.cfg.keyword_weight, keyword_scores), (self.cfg.title_weight, title_scores)]
        )
        return [int(row) for row in candidates[order]]

    def _rerank(self, query: str, kept: list[tuple[int, float]], rows: dict) -> list[tuple[int, float]]:
        """Reorder the floor-passing candidates with the configured cross-encoder (scores unchanged)."""
        if self._reranker is None:
            self._reranker = load_reranker(self.cfg.reranker)
        pairs = [(query, rows["documents"][row]) for row, _ in kept]
        scores = self._reranker.predict(pairs, show_progress_bar=False)
        ranked = sorted(zip(kept, scores), key=lambda item: -float(item[1]))
        return [item for item, _ in ranked]

    def _collapse(self, kept: list[tuple[int, float]], rows: dict, k: int) -> list[Passage]:
        """The first `k` candidates that are not near-copies of one already taken, at most
        `max_per_doc` from one article."""
        passages, taken, per_doc = [], [], {}
        for row, score in kept:
            doc = rows["doc_of"][row]
            if per_doc.get(doc, 0) >= self.cfg.max_per_doc:
                continue
            sh = rows["shingles"].get(row)
            if sh is None:
                sh = rows["shingles"][row] = shingles(rows["documents"][row] or "")
            if any(is_near_duplicate(sh, other, self.cfg.dedup_threshold) for other in taken):
                continue
            taken.append(sh)
            per_doc[doc] = per_doc.get(doc, 0) + 1
            meta = rows["metadatas"][row]
            passages.append(
                Passage(
                    number=len(passages) + 1,
                    text=rows["documents"][row] or "",
                    doc_id=meta.get("doc_id", ""),
                    source=meta.get("source", ""),
                    title=meta.get("title", ""),
                    section=meta.get("section", ""),
                    chunk_id=meta.get("chunk_id", rows["ids"][row]),
                    score=round(score, 4),
                )
            )
            if len(passages) == k:
                break
        return passages


def article_vectors(doc_ids: list[str], vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's article number, and each article's unit-length mean chunk vector."""
    names = {doc: i for i, doc in enumerate(dict.fromkeys(doc_ids))}
    doc_of = np.asarray([names[doc] for doc in doc_ids], dtype=np.int64)
    sums = np.zeros((len(names), vectors.shape[1]), dtype=np.float32)
    np.add.at(sums, doc_of, vectors)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return doc_of, sums / np.where(norms == 0, 1, norms)


def load_reranker(name: str):
    """A sentence-transformers CrossEncoder from a hub id or local path."""
    try:
        from sentence_transformers import CrossEncoder

        return CrossEncoder(name, device="cpu")
    except OSError as exc:
        raise ModelNotFoundError(
            f"Could not load the reranker {name!r}: {exc}. Give a local cross-encoder folder, or clear `reranker`."
        ) from exc


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    query_parts, rest = [], []
    it = iter(argv)
    for arg in it:
        if arg == "-k":
            rest += ["--top_k", next(it, "5")]
        elif arg.startswith("-"):
            rest += [arg, next(it, "")]
        else:
            query_parts.append(arg)
    if not query_parts:
        print('usage: python -m retrieval.search "question" [-k 5]', file=sys.stderr)
        return 2
    (cfg,) = parse_config([RetrievalConfig], rest)
    try:
        print(format_passages(Searcher(cfg).search(" ".join(query_parts))))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
