"""Load a knowledge-base folder and split documents into chunks that know their title and section.

Chunks are cut on Markdown headings first (LangChain's whitespace-preserving Markdown
splitter), then by size, so every chunk carries exact character offsets into its
document. FAQ tables give one chunk per question/answer pair.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from langchain_core.documents import Document
from langchain_text_splitters import ExperimentalMarkdownSyntaxTextSplitter, RecursiveCharacterTextSplitter

from .loaders import SUPPORTED_SUFFIXES, LoadError, load_file

HEADINGS = [("#", "h1"), ("##", "h2"), ("###", "h3")]
# Chat-template control tokens and stray control characters: document text is data, so
# nothing in it may look like a turn boundary or close the quoted block the model reads.
CONTROL_TOKENS = re.compile(r"<\|[^|>\n]{1,40}\|>|</?s>|\[/?INST\]")
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class LoadReport:
    documents: list[Document]
    failed: dict[str, str]  # source path -> reason


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def clean_text(text: str) -> str:
    """Normalise newlines and neutralise text that could pose as chat structure."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = CONTROL_CHARS.sub("", text)
    text = CONTROL_TOKENS.sub(" ", text)
    return text.replace('"""', "'''")


def list_files(kb_dir: Path) -> list[Path]:
    """Supported files under `kb_dir`, hidden files and folders skipped, in a stable order."""
    files = []
    for path in kb_dir.rglob("*"):
        parts = path.relative_to(kb_dir).parts
        if any(part.startswith(".") for part in parts):
            continue
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(path)
    return sorted(files)


def load_folder(kb_dir: Path) -> LoadReport:
    """Read every supported file under `kb_dir`; unreadable, corrupt or empty files are reported, not raised."""
    documents, failed = [], {}
    for path in list_files(kb_dir):
        source = path.relative_to(kb_dir).as_posix()
        try:
            doc = load_file(path, source)
        except LoadError as exc:
            failed[source] = str(exc)
            continue
        doc.page_content = clean_text(doc.page_content)
        documents.append(doc)
    return LoadReport(documents, failed)


def document_title(doc: Document) -> str:
    """The first `# ` heading, the file's own title, or a title made from the file name."""
    for line in doc.page_content.splitlines():
        if line.startswith("# ") and line[2:].strip():
            return line[2:].strip()
    if doc.metadata.get("title"):
        return doc.metadata["title"]
    return Path(doc.metadata["source"]).stem.replace("-", " ").replace("_", " ").capitalize()


def _chunk(doc: Document, text: str, index: int, start: int, title: str, section: str) -> Document:
    meta = {key: value for key, value in doc.metadata.items() if key in ("source", "doc_id", "kind")}
    return Document(
        page_content=text,
        metadata={
            **meta,
            "title": title,
            "section": section,
            "chunk_id": f"{doc.metadata['doc_id']}#{index}",
            "chunk_index": index,
            "hash": content_hash(text),
            "start": start,
            "end": start + len(text),
        },
    )


def _sections(text: str) -> list[tuple[int, str, str]]:
    """(offset, heading, section text) for each heading-delimited section, in order."""
    sections, cursor = [], 0
    for part in ExperimentalMarkdownSyntaxTextSplitter(headers_to_split_on=HEADINGS, strip_headers=False).split_text(text):
        body = part.page_content
        start = text.find(body, cursor)
        if start < 0:  # the splitter only drops rule lines, so this is a safety net
            start = cursor
        else:
            cursor = start + len(body)
        heading = part.metadata.get("h3") or part.metadata.get("h2") or part.metadata.get("h1") or ""
        sections.append((start, heading.strip(), body))
    return sections


def split_document(doc: Document, chunk_size: int, chunk_overlap: int) -> list[Document]:
    """Split on headings first, then by size; each chunk carries its metadata and offsets."""
    title = document_title(doc)
    if doc.metadata.get("kind") == "faq":
        return _split_faq(doc, title)
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True, strip_whitespace=True
    )
    chunks = []
    for offset, heading, body in _sections(doc.page_content):
        for piece in splitter.create_documents([body]):
            text = piece.page_content
            if not text.strip() or text.lstrip("#").strip() == heading:
                continue  # a bare heading line says nothing on its own
            start = offset + piece.metadata["start_index"]
            chunks.append(_chunk(doc, text, len(chunks), start, title, heading or title))
    return chunks


def _split_faq(doc: Document, title: str) -> list[Document]:
    chunks, cursor = [], 0
    for question, answer in doc.metadata["faq_pairs"]:
        text = clean_text(f"Q: {question}\nA: {answer}")
        start = doc.page_content.find(text, cursor)
        start = start if start >= 0 else cursor
        cursor = start + len(text)
        chunks.append(_chunk(doc, text, len(chunks), start, title, clean_text(question)))
    return chunks


def embedding_text(title: str, section: str, text: str) -> str:
    """What is embedded and keyword-indexed: the chunk with its title and section in front,
    so a passage deep in a document still says which product and topic it is about."""
    head = title if section in ("", title) else f"{title} - {section}"
    return f"{head}\n{text}"
