"""Search the knowledge base and format numbered passages.

    python -m retrieval.search "how do I return my headphones?" [-k 5]
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

from .config import RetrievalConfig, parse_config
from .embeddings import load_embeddings
from .errors import RetrievalError
from .store import open_vector_store


@dataclass
class Passage:
    """A retrieved chunk: its text plus where it came from and how well it matched."""

    number: int
    text: str
    doc_id: str
    source: str
    title: str
    section: str
    chunk_id: str
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


class Searcher:
    """Dense search over the Chroma collection with a relevance floor."""

    def __init__(self, cfg: RetrievalConfig):
        self.cfg = cfg
        self.store = open_vector_store(cfg, load_embeddings(cfg.embedding_model))

    def count(self) -> int:
        return self.store._collection.count()

    def search(self, query: str, k: int | None = None) -> list[Passage]:
        """Passages scoring at least `min_score`, best first, numbered from 1."""
        k = k or self.cfg.top_k
        if not query.strip() or self.count() == 0:
            return []
        hits = self.store.similarity_search_with_score(query, k=k)
        passages = []
        for doc, distance in hits:
            score = 1.0 - float(distance)
            if score < self.cfg.min_score:
                continue
            meta = doc.metadata
            passages.append(
                Passage(
                    number=len(passages) + 1,
                    text=doc.page_content,
                    doc_id=meta.get("doc_id", ""),
                    source=meta.get("source", ""),
                    title=meta.get("title", ""),
                    section=meta.get("section", ""),
                    chunk_id=meta.get("chunk_id", ""),
                    score=round(score, 4),
                )
            )
        return passages


def format_passages(passages: list[Passage]) -> str:
    """The tool result the model reads: numbered, quoted passages with their source.

    The text is quoted data from documents, never instructions; the system prompt says so.
    """
    if not passages:
        return "No relevant passages found in the help center."
    blocks = []
    for p in passages:
        heading = p.title if p.section in ("", p.title) else f"{p.title} - {p.section}"
        blocks.append(f'[{p.number}] {heading} (source: {p.source})\n"""\n{p.text.strip()}\n"""')
    return "\n\n".join(blocks)


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
    except RetrievalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
