"""Open the Chroma index: embedded (PersistentClient) by default, a server when a URL is set."""

from __future__ import annotations

from urllib.parse import urlparse

from .config import RetrievalConfig
from .errors import IndexUnavailableError


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
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def open_vector_store(cfg: RetrievalConfig, embeddings):
    """A LangChain `Chroma` store over the configured collection (cosine distance)."""
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=cfg.collection,
        client=chroma_client(cfg),
        embedding_function=embeddings,
        collection_metadata={"hnsw:space": "cosine"},
    )
