"""Open the Chroma index: embedded (PersistentClient) by default, a server when a URL is set.

Both paths return the same `chromadb` collection; we pass our own vectors, so the
collection has no embedding function of its own (nothing tries to download one).
"""

from __future__ import annotations

from urllib.parse import urlparse

from .config import RetrievalConfig
from .errors import IndexUnavailableError

PAGE = 2000  # rows per `get` call when reading the whole collection
_writes = [0]  # bumped by every indexing run that changed a collection in this process


def mark_changed() -> None:
    """Tell searchers in this process to re-read the collection on their next query."""
    _writes[0] += 1


def write_generation() -> int:
    return _writes[0]


def chroma_client(cfg: RetrievalConfig):
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if cfg.chroma_url:
        url = urlparse(cfg.chroma_url)
        try:
            return chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or 8000,
                ssl=url.scheme == "https",
                settings=settings,
            )
        except Exception as exc:  # chromadb raises several types for a dead server
            raise IndexUnavailableError(
                f"Cannot reach the Chroma server at {cfg.chroma_url} ({exc}). Start it with "
                "`chroma run --path DIR`, or clear `chroma_url` to use the embedded index."
            ) from exc
    path = cfg.resolved_index_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except Exception as exc:
        raise IndexUnavailableError(
            f"Cannot open the index at {path} ({exc}). Check the folder is writable, or set `index_dir`."
        ) from exc


def open_collection(cfg: RetrievalConfig):
    """The configured collection (cosine distance), created when missing."""
    client = chroma_client(cfg)
    try:
        return client.get_or_create_collection(
            cfg.collection, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
    except Exception as exc:
        where = cfg.chroma_url or cfg.resolved_index_dir()
        raise IndexUnavailableError(
            f"Cannot open collection {cfg.collection!r} at {where} ({exc}). "
            "Check the name (3-512 letters, digits, '.', '_' or '-') and that the index is reachable."
        ) from exc


def read_all(collection, include: list[str]) -> dict:
    """Every row of the collection, paged so a large index is not one giant request."""
    rows = {"ids": [], **{key: [] for key in include}}
    offset = 0
    while True:
        page = collection.get(include=include, limit=PAGE, offset=offset)
        rows["ids"] += page["ids"]
        for key in include:
            values = page.get(key)
            rows[key] += list(values) if values is not None else []
        if len(page["ids"]) < PAGE:
            return rows
        offset += PAGE
