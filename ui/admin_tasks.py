"""The admin page's work, free of Gradio: uploads, re-indexing, document and adapter lists."""

from __future__ import annotations

import inspect
import re
import shutil
from collections import Counter
from pathlib import Path

from assistant.feedback import FeedbackStore
from retrieval.documents import SUPPORTED_SUFFIXES, load_folder
from retrieval.index import IndexSummary, build_index
from retrieval.search import Searcher

UPLOAD_FOLDER = "uploads"
BASE_MODEL_CHOICE = "(base model)"


class AdminError(Exception):
    """An admin action that cannot be done as asked; the message says what to do."""


def safe_name(name: str) -> str:
    """A file name with no folders and only plain characters, so an upload cannot escape the folder."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).name).strip(".-")
    return stem or "document.md"


def save_uploads(paths: list[str], kb_dir: str | Path) -> list[str]:
    """Copy uploaded Markdown/text files into `<kb_dir>/uploads/`; return their paths in the knowledge base."""
    if not paths:
        raise AdminError("Choose one or more .md or .txt files to upload first.")
    target = Path(kb_dir) / UPLOAD_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    saved = []
    for path in paths:
        name = safe_name(Path(path).name)
        if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
            raise AdminError(f"{Path(path).name} is not a supported document; upload Markdown (.md) or text (.txt).")
        shutil.copyfile(path, target / name)
        saved.append(f"{UPLOAD_FOLDER}/{name}")
    return saved


def reindex(assistant, on_progress=None) -> IndexSummary:
    """Rebuild the index from the knowledge-base folder and point the assistant at the new one."""
    cfg = assistant.cfg.retrieval
    params = inspect.signature(build_index).parameters
    if on_progress is not None and "on_progress" in params:
        summary = build_index(cfg, progress=False, on_progress=on_progress)
    else:
        summary = build_index(cfg, progress=on_progress is not None)
    # The old store holds a handle to the deleted collection; search through a fresh one.
    if hasattr(assistant, "reload_index"):
        assistant.reload_index()
    else:
        assistant.searcher = Searcher(cfg)
    return summary


def documents_table(assistant) -> list[list]:
    """One row per document in the knowledge-base folder: path, chunks in the index, status."""
    kb_dir = Path(assistant.cfg.retrieval.kb_dir)
    report = load_folder(kb_dir) if kb_dir.is_dir() else None
    metadatas = assistant.searcher.store._collection.get(include=["metadatas"])["metadatas"] or []
    chunks = Counter((m or {}).get("source", "") for m in metadatas)
    rows = []
    for doc in report.documents if report else []:
        source = doc.metadata["source"]
        rows.append([source, chunks.get(source, 0), "indexed" if chunks.get(source) else "not indexed yet: re-index"])
    for source, reason in sorted((report.failed if report else {}).items()):
        rows.append([source, 0, f"failed: {reason}"])
    return rows


def adapter_choices(adapters_dir: str | Path) -> list[str]:
    """The base model, then the registry's aliases, then its runs (newest name last)."""
    from assistant.registry import read_registry

    registry = read_registry(adapters_dir)
    return [BASE_MODEL_CHOICE, *sorted(registry["aliases"]), *sorted(registry["runs"])]


def switch_adapter(assistant, choice: str) -> str:
    """Serve `choice` from now on; return what is served."""
    name = "" if choice in ("", None, BASE_MODEL_CHOICE) else choice
    if not hasattr(assistant, "use_adapter"):
        raise AdminError("This assistant cannot switch adapters while running; set `adapter` in the config and restart.")
    assistant.use_adapter(name)
    return name or BASE_MODEL_CHOICE


def feedback_table(store: FeedbackStore, limit: int = 50) -> list[list]:
    rows = []
    for r in store.recent_feedback(limit):
        rating = "👍" if r["rating"] > 0 else "👎"
        rows.append([r["id"], r["created_at"], rating, r["question"], r["answer"], r["better_answer"], r["adapter"]])
    return rows


FEEDBACK_COLUMNS = ["id", "time", "rating", "question", "answer", "better answer", "adapter"]
DOCUMENT_COLUMNS = ["document", "chunks", "status"]
