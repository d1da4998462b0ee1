"""Typed retrieval settings and the one config parser every entry point uses.

Settings come from a YAML file (`--config`, default `configs/assistant.yaml` when it
exists) and are overridden by command-line flags, through trl's `TrlParser`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RetrievalError

DEFAULT_CONFIG_FILE = "configs/assistant.yaml"
BUNDLED_EMBEDDING_MODEL = "bundled:all-MiniLM-L6-v2"
FUSIONS = ("score", "rrf")


def cache_home() -> Path:
    """Where converted models and indexes live: $DESKMATE_HOME or ~/.cache/deskmate."""
    return Path(os.environ.get("DESKMATE_HOME", Path.home() / ".cache" / "deskmate"))


@dataclass
class RetrievalConfig:
    kb_dir: str = field(default="data/kb", metadata={"help": "Folder of help-center documents to index."})
    index_dir: str = field(
        default="", metadata={"help": "Folder of the embedded Chroma index (default: $DESKMATE_HOME/index)."}
    )
    collection: str = field(default="helpcenter", metadata={"help": "Chroma collection name (3-512 characters)."})
    chroma_url: str = field(
        default="", metadata={"help": "URL of a Chroma server (e.g. http://127.0.0.1:8000); empty = embedded."}
    )
    embedding_model: str = field(
        default=BUNDLED_EMBEDDING_MODEL,
        metadata={"help": "Sentence-transformers model: 'bundled:all-MiniLM-L6-v2', a hub id or a local path."},
    )
    top_k: int = field(default=4, metadata={"help": "Passages returned per search."})
    min_score: float = field(
        default=0.2,
        metadata={"help": "Relevance floor (cosine similarity): when no passage reaches it, the search finds no evidence. "
                          "Whether the passages found answer the question is the assistant's grounding gate's decision."},
    )
    min_passage_score: float = field(
        default=0.2, metadata={"help": "Once the floor is met, weaker passages below this cosine are still left out."}
    )
    doc_weight: float = field(
        default=0.6,
        metadata={"help": "Weight of the whole article's similarity (mean of its chunk vectors) added to each chunk's "
                  "cosine when ranking dense results; 0 = chunks alone."},
    )
    max_per_doc: int = field(default=2, metadata={"help": "Most passages one article may contribute to a result."})
    chunk_size: int = field(default=900, metadata={"help": "Maximum characters per chunk."})
    chunk_overlap: int = field(default=120, metadata={"help": "Characters shared by neighbouring chunks."})
    hybrid: bool = field(
        default=True, metadata={"help": "Fuse dense (Chroma) and BM25 keyword results by reciprocal rank; false = dense only."}
    )
    candidates: int = field(default=30, metadata={"help": "Candidates each retriever contributes before fusion."})
    fusion: str = field(
        default="score",
        metadata={"help": "How dense and keyword results merge: 'score' (each side's scores scaled to 0-1, then "
                  "weighted and summed) or 'rrf' (reciprocal rank fusion, ranks only)."},
    )
    keyword_weight: float = field(
        default=0.5, metadata={"help": "Score fusion: weight of the BM25 score (scaled to 0-1) against the dense score's 1."}
    )
    title_weight: float = field(
        default=0.2,
        metadata={"help": "Score fusion: weight of how well the query's words match the article title (BM25, scaled "
                  "to 0-1); 0 = off."},
    )
    rrf_k: int = field(default=60, metadata={"help": "Reciprocal-rank-fusion constant: larger flattens the rank weights."})
    dedup_threshold: float = field(
        default=0.8,
        metadata={"help": "Word-shingle overlap (0-1) above which two passages count as near-duplicates; 1 = off."},
    )
    reranker: str = field(
        default="", metadata={"help": "Optional cross-encoder (hub id or local path) that reorders fused candidates."}
    )
    embed_batch_size: int = field(default=32, metadata={"help": "Chunks embedded and stored per batch while indexing."})

    def __post_init__(self):
        if self.fusion not in FUSIONS:
            raise RetrievalError(f"fusion must be one of {', '.join(FUSIONS)}, not {self.fusion!r}.")

    def resolved_index_dir(self) -> Path:
        return Path(self.index_dir) if self.index_dir else cache_home() / "index"


def parse_config(dataclass_types, args=None):
    """Parse `--config FILE.yaml` plus flag overrides into instances of `dataclass_types`.

    YAML keys that belong to other parts of the product are ignored here, so one file
    serves every entry point.
    """
    from trl import TrlParser

    args = list(args) if args is not None else None
    if args is None:
        import sys

        args = sys.argv[1:]
    if "--config" not in args and Path(DEFAULT_CONFIG_FILE).exists():
        args = ["--config", DEFAULT_CONFIG_FILE, *args]
    parser = TrlParser(dataclass_types)
    return parser.parse_args_and_config(args, fail_with_unknown_args=False)
