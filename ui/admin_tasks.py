"""The admin page's work, free of Gradio: uploads, re-indexing, document and adapter lists."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from assistant.errors import UserError
from assistant.feedback import FeedbackStore
from retrieval.documents import SUPPORTED_SUFFIXES, load_folder
from retrieval.index import IndexSummary, build_index
from retrieval.search import Searcher
from retrieval.store import open_collection, read_all

UPLOAD_FOLDER = "uploads"
BASE_MODEL_CHOICE = "(base model)"


class AdminError(UserError):
    """An admin action that cannot be done as asked; the message says what to do."""


def safe_name(name: str) -> str:
    """A file name with no folders and only plain characters, so an upload cannot escape the folder."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).name).strip(".-")
    return stem or "document.md"


def save_uploads(paths: list[str], kb_dir: str | Path) -> list[str]:
    """Copy uploaded documents into `<kb_dir>/uploads/`; return their paths in the knowledge base."""
    if not paths:
        raise AdminError(f"Choose one or more documents to upload first ({', '.join(sorted(SUPPORTED_SUFFIXES))}).")
    target = Path(kb_dir) / UPLOAD_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    saved = []
    for path in paths:
        name = safe_name(Path(path).name)
        if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
            raise AdminError(
                f"{Path(path).name} is not a supported document; upload one of {', '.join(sorted(SUPPORTED_SUFFIXES))}."
            )
        shutil.copyfile(path, target / name)
        saved.append(f"{UPLOAD_FOLDER}/{name}")
    return saved


def reindex(assistant, on_progress=None) -> IndexSummary:
    """Bring the index in line with the knowledge-base folder (only changed documents are embedded).

    `on_progress(done, total)` is called per embedded batch. The searcher's in-memory copy of
    the index is dropped afterwards, so the next question searches the new documents.
    """
    cfg = assistant.cfg.retrieval
    summary = build_index(cfg, progress=False, on_progress=on_progress)
    if hasattr(assistant.searcher, "refresh"):
        assistant.reload_index()
    else:
        assistant.searcher = Searcher(cfg)
    return summary


def documents_table(assistant) -> list[list]:
    """One row per document in the knowledge-base folder: path, chunks in the index, status."""
    kb_dir = Path(assistant.cfg.retrieval.kb_dir)
    report = load_folder(kb_dir) if kb_dir.is_dir() else None
    metadatas = read_all(open_collection(assistant.cfg.retrieval), ["metadatas"])["metadatas"]
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


def export_conversations(db: str | Path, timeout: float = 600) -> tuple[Path, str]:
    """Stored conversations as SFT training dialogues, personal data masked: runs `python -m training.export`
    (a command, not an import: the web app does not depend on the training package) into a fresh file in
    the system's temp folder, which the page offers for download. Returns the file and the command's summary."""
    out = Path(tempfile.mkdtemp(prefix="deskmate-export-")) / f"conversations-sft-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
    try:
        done = subprocess.run([sys.executable, "-m", "training.export", "--db", str(db), "--out", str(out)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise AdminError(f"The export took longer than {timeout:.0f} s; run `python -m training.export` instead.") from exc
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise AdminError(f"The export failed: {why}")
    return out, done.stdout.strip().splitlines()[-1]


def feedback_table(store: FeedbackStore, limit: int = 50) -> list[list]:
    rows = []
    for r in store.recent_feedback(limit):
        rating = "👍" if r["rating"] > 0 else "👎"
        rows.append([r["id"], r["created_at"], rating, r["question"], r["answer"], r["better_answer"], r["adapter"]])
    return rows


FEEDBACK_COLUMNS = ["id", "time", "rating", "question", "answer", "better answer", "adapter"]
DOCUMENT_COLUMNS = ["document", "chunks", "status"]
