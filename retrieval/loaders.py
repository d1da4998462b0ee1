"""Read help-center files into LangChain Documents: Markdown, text, HTML, PDF and FAQ tables.

Every loader returns whole documents (one per file); FAQ tables return one document whose
metadata lists its question/answer pairs, so each pair becomes exactly one chunk. A file
that cannot be read raises `LoadError` with a short reason that the index summary shows.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from langchain_core.documents import Document

MARKDOWN = {".md", ".markdown"}
TEXT = {".txt", ".text"}
HTML = {".html", ".htm"}
PDF = {".pdf"}
FAQ = {".csv", ".jsonl"}
SUPPORTED_SUFFIXES = MARKDOWN | TEXT | HTML | PDF | FAQ

QUESTION_COLUMNS = ("question", "q", "questions", "title")
ANSWER_COLUMNS = ("answer", "a", "answers", "response", "reply")


class LoadError(Exception):
    """A file was skipped; the message is the reason shown next to its name."""


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then the encoding charset-normalizer detects."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise LoadError("not text in any known encoding; save it as UTF-8")
    return str(best)


def load_file(path: Path, source: str) -> Document:
    """Load one file; `source` is its path relative to the knowledge-base folder."""
    suffix = path.suffix.lower()
    try:
        if suffix in PDF:
            doc = _load_pdf(path)
        else:
            data = path.read_bytes()
            if not data.strip():
                raise LoadError("empty file")
            text = decode_text(data)
            if suffix in HTML:
                doc = _load_html(text)
            elif suffix in FAQ:
                doc = _load_faq(text, suffix)
            else:
                doc = Document(page_content=text, metadata={"kind": "markdown" if suffix in MARKDOWN else "text"})
    except OSError as exc:
        raise LoadError(f"unreadable ({exc.strerror or exc})") from exc
    if not doc.page_content.strip():
        raise LoadError("no text found in the file")
    doc.metadata.update(source=source, doc_id=source)
    return doc


def _load_pdf(path: Path) -> Document:
    """PDF pages joined in order (LangChain's PyPDFLoader); a broken PDF is a LoadError."""
    from langchain_community.document_loaders import PyPDFLoader

    try:
        pages = PyPDFLoader(str(path)).load()
    except OSError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise LoadError(f"corrupt or unreadable PDF ({type(exc).__name__})") from exc
    text = "\n\n".join(page.page_content.strip() for page in pages if page.page_content.strip())
    if not text:
        raise LoadError("the PDF has no extractable text (scanned pages need OCR first)")
    meta = pages[0].metadata if pages else {}
    return Document(page_content=text, metadata={"kind": "pdf", "title": str(meta.get("title") or "").strip()})


def _load_html(text: str) -> Document:
    """HTML as Markdown-like text: headings become `#` lines so chunks keep their section."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    prefix = f"# {title}\n\n" if title and not soup.find("h1") else ""
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            heading.replace_with(soup.new_string(f"\n\n{'#' * level} {heading.get_text(' ', strip=True)}\n\n"))
    for item in soup.find_all("li"):
        item.insert(0, soup.new_string("\n- "))
    for block in soup.find_all(["p", "div", "tr", "br", "table", "ul", "ol", "pre"]):
        block.insert_after(soup.new_string("\n"))
    body = soup.get_text("")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in body.splitlines()]
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return Document(page_content=prefix + cleaned + "\n", metadata={"kind": "html"})


def _faq_rows(text: str, suffix: str) -> list[dict]:
    if suffix == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LoadError(f"line {number} is not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise LoadError(f"line {number} is not a JSON object")
        rows.append(row)
    return rows


def _pick(row: dict, names: tuple[str, ...]) -> str:
    lowered = {str(key).strip().lower(): value for key, value in row.items() if key is not None}
    for name in names:
        if lowered.get(name) not in (None, ""):
            return str(lowered[name]).strip()
    return ""


def _load_faq(text: str, suffix: str) -> Document:
    """Question/answer pairs; the document text is the pairs as `Q:`/`A:` blocks."""
    try:
        rows = _faq_rows(text, suffix)
    except csv.Error as exc:
        raise LoadError(f"not a valid CSV table ({exc})") from exc
    pairs = [(q, a) for q, a in ((_pick(r, QUESTION_COLUMNS), _pick(r, ANSWER_COLUMNS)) for r in rows) if q and a]
    if not pairs:
        raise LoadError("no rows with both a 'question' and an 'answer' column")
    body = "\n\n".join(f"Q: {q}\nA: {a}" for q, a in pairs) + "\n"
    return Document(page_content=body, metadata={"kind": "faq", "faq_pairs": pairs})
