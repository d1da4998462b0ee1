"""Index a knowledge-base folder into Chroma, incrementally.

    python -m retrieval.index [KB_DIR] [--config configs/assistant.yaml] [--chroma_url URL]

Each chunk stores its document's hash and chunk count, so a run can tell which documents
are unchanged (skipped, not embedded again), changed or half-written by an interrupted run
(their chunks are replaced), new (added) or gone from the folder (removed).
Setting DESKMATE_INDEX_BATCH_DELAY (seconds) sleeps after each stored batch; tests use it
to interrupt an indexing run part-way.
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .config import RetrievalConfig, parse_config
from .documents import content_hash, embedding_text, load_folder, split_document
from .embeddings import embed_documents
from .errors import EmptyKnowledgeBaseError, UserError
from .store import mark_changed, open_collection, read_all

INDEX_FORMAT = "1"  # bump when chunk metadata or embedding text changes


@dataclass
class IndexSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    chunks: int = 0  # chunks in the index after the run
    embedded: int = 0  # chunks embedded by this run
    seconds: float = 0.0

    @property
    def documents(self) -> int:
        return self.added + self.updated + self.unchanged

    def __str__(self) -> str:
        lines = [
            f"documents: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed, {len(self.failed)} failed",
            f"chunks: {self.chunks} in the index, {self.embedded} embedded in {self.seconds:.1f}s",
        ]
        lines += [f"  failed: {source}: {reason}" for source, reason in sorted(self.failed.items())]
        return "\n".join(lines)


def _fingerprint(cfg: RetrievalConfig) -> str:
    return f"{INDEX_FORMAT}|{cfg.embedding_model}|{cfg.chunk_size}|{cfg.chunk_overlap}"


def _indexed_documents(collection) -> dict[str, dict]:
    """doc_id -> {"ids": [...], "hashes": {...}, "expected": n} for what the index holds now."""
    rows = read_all(collection, ["metadatas"])
    docs: dict[str, dict] = defaultdict(lambda: {"ids": [], "hashes": set(), "expected": set()})
    for chunk_id, meta in zip(rows["ids"], rows["metadatas"]):
        meta = meta or {}
        entry = docs[meta.get("doc_id", chunk_id)]
        entry["ids"].append(chunk_id)
        entry["hashes"].add(meta.get("doc_hash"))
        entry["expected"].add(meta.get("n_chunks"))
    return dict(docs)


def _is_complete(entry: dict, doc_hash: str) -> bool:
    return entry["hashes"] == {doc_hash} and entry["expected"] == {len(entry["ids"])}


def _chunk_all(report, cfg: RetrievalConfig, summary: IndexSummary) -> dict[str, list]:
    """doc_id -> chunks with their document hash; a document that fails to split is reported."""
    fingerprint = _fingerprint(cfg)
    chunked = {}
    for doc in report.documents:
        try:
            chunks = split_document(doc, cfg.chunk_size, cfg.chunk_overlap)
        except Exception as exc:  # a malformed document must not stop the run
            summary.failed[doc.metadata["source"]] = f"could not be split ({type(exc).__name__}: {exc})"
            continue
        if not chunks:
            summary.failed[doc.metadata["source"]] = "no text left after splitting"
            continue
        doc_hash = content_hash(fingerprint + doc.page_content)
        for chunk in chunks:
            chunk.metadata.update(doc_hash=doc_hash, n_chunks=len(chunks))
        chunked[doc.metadata["doc_id"]] = chunks
    return chunked


def build_index(cfg: RetrievalConfig, progress: bool = True, on_progress=None) -> IndexSummary:
    """Bring the collection in line with `cfg.kb_dir`; `on_progress(done, total)` is called per batch."""
    start = time.perf_counter()
    kb_dir = Path(cfg.kb_dir)
    if not kb_dir.is_dir():
        raise EmptyKnowledgeBaseError(f"Knowledge-base folder {kb_dir} does not exist; pass the folder of your documents.")
    report = load_folder(kb_dir)
    summary = IndexSummary(failed=dict(report.failed))
    chunked = _chunk_all(report, cfg, summary)
    if not chunked:
        raise EmptyKnowledgeBaseError(
            f"No readable documents in {kb_dir} (supported: Markdown, text, HTML, PDF, FAQ CSV/JSONL). "
            "Add help-center articles and re-run."
        )
    collection = open_collection(cfg)
    indexed = _indexed_documents(collection)
    stale, pending = [], []
    for doc_id, chunks in chunked.items():
        entry = indexed.get(doc_id)
        if entry and _is_complete(entry, chunks[0].metadata["doc_hash"]):
            summary.unchanged += 1
            continue
        if entry:
            summary.updated += 1
            stale += entry["ids"]
        else:
            summary.added += 1
        pending += chunks
    present = {p.relative_to(kb_dir).as_posix() for p in kb_dir.rglob("*") if p.is_file()}
    for doc_id, entry in indexed.items():
        if doc_id not in chunked and doc_id not in present:  # a file that failed to load keeps its old chunks
            summary.removed += 1
            stale += entry["ids"]
    if stale or pending:
        mark_changed()
    if stale:
        collection.delete(ids=stale)
    _store(collection, pending, cfg, progress, on_progress)
    summary.embedded = len(pending)
    summary.chunks = collection.count()
    summary.seconds = time.perf_counter() - start
    return summary


WINDOW_BATCHES = 8  # batches per window of whole documents sorted by length


def _batches(chunks: list, size: int) -> list[list]:
    """Batches of similar-length chunks (little padding, so faster embedding), drawn from
    windows of whole documents so an interrupted run loses at most one window of work."""
    windows, window = [], []
    for i, chunk in enumerate(chunks):
        window.append(chunk)
        last_of_doc = i + 1 == len(chunks) or chunks[i + 1].metadata["doc_id"] != chunk.metadata["doc_id"]
        if last_of_doc and (len(window) >= size * WINDOW_BATCHES or i + 1 == len(chunks)):
            windows.append(sorted(window, key=lambda c: len(c.page_content)))
            window = []
    return [w[j : j + size] for w in windows for j in range(0, len(w), size)]


def _store(collection, chunks: list, cfg: RetrievalConfig, progress: bool, on_progress) -> None:
    """Embed and upsert batch by batch. A run killed part-way leaves some documents with only
    part of their chunks; their count then differs from `n_chunks`, so the next run replaces them."""
    delay = float(os.environ.get("DESKMATE_INDEX_BATCH_DELAY", "0") or 0)
    size = max(1, cfg.embed_batch_size)
    batches = _batches(chunks, size)
    bar = tqdm(total=len(chunks), desc="embedding", unit="chunk", disable=not progress or not chunks)
    for done, batch in enumerate(batches, 1):
        texts = [embedding_text(c.metadata["title"], c.metadata["section"], c.page_content) for c in batch]
        vectors = embed_documents(cfg.embedding_model, texts, batch_size=size)
        collection.upsert(
            ids=[c.metadata["chunk_id"] for c in batch],
            embeddings=vectors,
            documents=[c.page_content for c in batch],
            metadatas=[c.metadata for c in batch],
        )
        bar.update(len(batch))
        if on_progress is not None:
            on_progress(done, len(batches))
        if delay:
            time.sleep(delay)
    bar.close()


def ensure_index(cfg: RetrievalConfig) -> IndexSummary | None:
    """Build the index when the collection is empty (first run); otherwise leave it alone."""
    if open_collection(cfg).count() > 0:
        return None
    return build_index(cfg)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-"):
        argv = ["--kb_dir", argv[0], *argv[1:]]
    (cfg,) = parse_config([RetrievalConfig], argv)
    try:
        print(build_index(cfg))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
