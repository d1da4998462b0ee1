"""Index a knowledge-base folder into Chroma.

    python -m retrieval.index [KB_DIR] [--config configs/assistant.yaml] [--chroma_url URL]
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .config import RetrievalConfig, parse_config
from .documents import load_folder, split_document
from .embeddings import load_embeddings
from .errors import EmptyKnowledgeBaseError, RetrievalError
from .store import open_vector_store

BATCH_SIZE = 64


@dataclass
class IndexSummary:
    documents: int = 0
    chunks: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def __str__(self) -> str:
        lines = [f"indexed {self.documents} documents, {self.chunks} chunks in {self.seconds:.1f}s"]
        lines += [f"  failed: {source}: {reason}" for source, reason in sorted(self.failed.items())]
        return "\n".join(lines)


def build_index(cfg: RetrievalConfig, progress: bool = True) -> IndexSummary:
    """(Re)build the collection from `cfg.kb_dir`."""
    start = time.perf_counter()
    kb_dir = Path(cfg.kb_dir)
    if not kb_dir.is_dir():
        raise EmptyKnowledgeBaseError(f"Knowledge-base folder {kb_dir} does not exist; pass the folder of your documents.")
    report = load_folder(kb_dir)
    if not report.documents:
        raise EmptyKnowledgeBaseError(
            f"No readable documents in {kb_dir} (supported: Markdown and text). Add help-center articles and re-run."
        )
    chunks = [c for doc in report.documents for c in split_document(doc, cfg.chunk_size, cfg.chunk_overlap)]
    store = open_vector_store(cfg, load_embeddings(cfg.embedding_model))
    store.reset_collection()
    for i in tqdm(range(0, len(chunks), BATCH_SIZE), desc="embedding", unit="batch", disable=not progress):
        batch = chunks[i : i + BATCH_SIZE]
        store.add_documents(batch, ids=[c.metadata["chunk_id"] for c in batch])
    return IndexSummary(len(report.documents), len(chunks), report.failed, time.perf_counter() - start)


def ensure_index(cfg: RetrievalConfig) -> IndexSummary | None:
    """Build the index when the collection is empty (first run); otherwise leave it alone."""
    store = open_vector_store(cfg, load_embeddings(cfg.embedding_model))
    if store._collection.count() > 0:
        return None
    return build_index(cfg)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-"):
        argv = ["--kb_dir", argv[0], *argv[1:]]
    (cfg,) = parse_config([RetrievalConfig], argv)
    try:
        print(build_index(cfg))
    except RetrievalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
