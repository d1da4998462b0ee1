"""Typed retrieval settings and the one config parser every entry point uses.

Settings come from a YAML file (`--config`, default `configs/assistant.yaml` when it
exists) and are overridden by command-line flags, through trl's `TrlParser`.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, RetrievalError

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


def parse_config(dataclass_types, args=None, file_sections=None, default_file=DEFAULT_CONFIG_FILE, defaults=None):
    """Parse `--config FILE.yaml` plus flag overrides into instances of `dataclass_types`.

    One file serves every entry point, so a YAML key may belong to a part of the product this
    entry point does not load. `file_sections` lists every section the file may hold: a key
    none of them has is a `ConfigError` that names the closest valid key. Without it (the
    retrieval commands, which cannot know the others), a key that is close to one of
    `dataclass_types`' fields but not one (`topk` for `top_k`) is that error. An unknown flag
    always is. `default_file` is read when no `--config` is given; `defaults` replace the
    dataclasses' own defaults (the file and flags still override them).
    """
    import sys

    from trl import TrlParser

    args = list(sys.argv[1:] if args is None else args)
    if "--config" not in args and Path(default_file).exists():
        args = ["--config", default_file, *args]
    own = {f for cls in dataclass_types for f in cls.__dataclass_fields__}
    if "--config" in args:
        path = args[args.index("--config") + 1] if args.index("--config") + 1 < len(args) else ""
        check_file_keys(path, own, {f for cls in file_sections or () for f in cls.__dataclass_fields__} | own,
                        strict=file_sections is not None)
    parser = TrlParser(dataclass_types)
    if defaults:
        parser.set_defaults(**defaults)
    try:
        return parser.parse_args_and_config(args, fail_with_unknown_args=False)
    except ValueError as exc:  # HfArgumentParser: "Some specified arguments are not used ...: [...]"
        unknown = [a[2:].split("=")[0] for a in args if a.startswith("--") and a[2:].split("=")[0] not in own | {"config"}]
        if not unknown:
            raise
        raise ConfigError(f"Unknown setting --{unknown[0]}{closest_hint(unknown[0], own)} "
                          "(--help lists them all).") from exc


def check_file_keys(path: str, own: set[str], known: set[str], strict: bool) -> None:
    """Raise `ConfigError` for a YAML key no section knows (`strict`), or one that looks like a typo of `own`."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read the config file {path!r} ({exc}); give an existing YAML file to --config.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold `setting: value` lines (a YAML mapping).")
    for key in data:
        if key in known or key == "env":
            continue
        near = difflib.get_close_matches(str(key), sorted(own), n=1, cutoff=0.75)
        if strict or near:
            hint = closest_hint(str(key), known) or "; remove it or check its spelling."
            raise ConfigError(f"{path}: unknown setting {key!r}{hint}")


def closest_hint(name: str, valid: set[str]) -> str:
    near = difflib.get_close_matches(name, sorted(valid), n=1, cutoff=0.6)
    return f"; did you mean {near[0]!r}?" if near else ""
