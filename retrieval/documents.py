"""Load help-center documents and split them into chunks that know their title and section."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from langchain_core.documents import Document
from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

SUPPORTED_SUFFIXES = {".md", ".markdown", ".txt"}


@dataclass
class LoadReport:
    documents: list[Document]
    failed: dict[str, str]  # source path -> reason


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_folder(kb_dir: Path) -> LoadReport:
    """Read every supported file under `kb_dir`; unreadable or empty files are reported, not raised."""
    documents, failed = [], {}
    for path in sorted(p for p in kb_dir.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES):
        source = path.relative_to(kb_dir).as_posix()
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            failed[source] = "not UTF-8 text"
            continue
        except OSError as exc:
            failed[source] = f"unreadable ({exc.strerror})"
            continue
        if not text.strip():
            failed[source] = "empty file"
            continue
        documents.append(Document(page_content=text, metadata={"source": source, "doc_id": source}))
    return LoadReport(documents, failed)


def _title(doc: Document) -> str:
    for line in doc.page_content.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return Path(doc.metadata["source"]).stem.replace("-", " ").capitalize()


def split_document(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Document]:
    """Split on Markdown headings first, then by size; each chunk carries its metadata."""
    title = _title(doc)
    by_heading = MarkdownHeaderTextSplitter(
        headers_to_split_on=[("#", "h1"), ("##", "h2"), ("###", "h3")], strip_headers=False
    ).split_text(doc.page_content)
    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    chunks, cursor = [], 0
    for section in by_heading:
        heading = section.metadata.get("h3") or section.metadata.get("h2") or section.metadata.get("h1") or title
        for piece in splitter.split_text(section.page_content):
            start = doc.page_content.find(piece[:80], cursor)
            start = start if start >= 0 else doc.page_content.find(piece[:80])
            if start >= 0:
                cursor = start
            index = len(chunks)
            chunks.append(
                Document(
                    page_content=piece,
                    metadata={
                        **doc.metadata,
                        "title": title,
                        "section": heading,
                        "chunk_id": f"{doc.metadata['doc_id']}#{index}",
                        "chunk_index": index,
                        "hash": content_hash(piece),
                        "start": max(start, 0),
                        "end": max(start, 0) + len(piece),
                    },
                )
            )
    return chunks
