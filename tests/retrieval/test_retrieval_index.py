"""Incremental indexing, interruption (kill -9), a real Chroma server, duplicates and bad input."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from retrieval.config import RetrievalConfig
from retrieval.errors import EmptyKnowledgeBaseError, IndexUnavailableError
from retrieval.index import build_index
from retrieval.search import Searcher

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

RETURNS = """# Returns policy

## Return window

You can return any Kestrel product within 30 days of delivery for a full refund.

## Packaging

Pack the item in its original box with all accessories and the printed returns label.
"""
SHIPPING = "# Shipping times\n\n## Standard delivery\n\nStandard delivery to Germany takes 2-4 working days.\n"
WARRANTY = "# Warranty\n\n## Error codes\n\nIf the Arc shows error ZX-4417 the battery controller failed; claim a free repair.\n"


def small_kb(root: Path) -> Path:
    kb = root / "kb"
    kb.mkdir()
    (kb / "returns.md").write_text(RETURNS)
    (kb / "returns-copy.md").write_text(RETURNS)  # a near-duplicate article
    (kb / "shipping.md").write_text(SHIPPING)
    (kb / "warranty.md").write_text(WARRANTY)
    (kb / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    return kb


def test_incremental_index_adds_updates_skips_and_removes(tmp_path):
    kb = small_kb(tmp_path)
    cfg = RetrievalConfig(kb_dir=str(kb), index_dir=str(tmp_path / "index"))
    calls = []
    first = build_index(cfg, progress=False, on_progress=lambda done, total: calls.append((done, total)))
    assert (first.added, first.updated, first.unchanged, first.removed) == (4, 0, 0, 0)
    assert first.failed.keys() == {"broken.pdf"} and "broken.pdf" in str(first)
    assert calls and calls[-1][0] == calls[-1][1]

    again = build_index(cfg, progress=False)
    assert (again.added, again.updated, again.unchanged, again.embedded) == (0, 0, 4, 0)
    assert again.chunks == first.chunks

    searcher = Searcher(cfg)
    assert "2-4 working days" in searcher.search("how long does standard delivery to Germany take?")[0].text
    (kb / "shipping.md").write_text(SHIPPING.replace("2-4 working days", "5-7 working days by cargo bike"))
    changed = build_index(cfg, progress=False)
    assert (changed.added, changed.updated, changed.unchanged, changed.removed) == (0, 1, 3, 0)
    # Same chunk count, new text: the open searcher still sees the change.
    assert "cargo bike" in searcher.search("how long does standard delivery to Germany take?")[0].text

    (kb / "warranty.md").unlink()
    removed = build_index(cfg, progress=False)
    assert (removed.unchanged, removed.removed, removed.embedded) == (3, 1, 0)
    assert all(p.source != "warranty.md" for p in searcher.search("error ZX-4417 battery controller"))

    # The two identical returns articles are collapsed into one passage.
    window = searcher.search("how many days do I have to return my headphones?", k=5)
    texts = [p.text for p in window]
    assert len(texts) == len(set(texts)), [p.chunk_id for p in window]
    assert "30 days" in window[0].text


def test_empty_knowledge_base_is_a_clear_error(tmp_path):
    (tmp_path / "empty.md").write_text("\n")
    cfg = RetrievalConfig(kb_dir=str(tmp_path), index_dir=str(tmp_path / "idx"))
    with pytest.raises(EmptyKnowledgeBaseError, match="Add help-center articles"):
        build_index(cfg, progress=False)
    with pytest.raises(EmptyKnowledgeBaseError, match="does not exist"):
        build_index(RetrievalConfig(kb_dir=str(tmp_path / "missing")), progress=False)


def _read_progress(stream, seen: list) -> None:
    for chunk in iter(lambda: stream.read1(256), b""):
        seen.append(chunk.decode("utf-8", "replace"))


def test_killed_indexer_leaves_a_usable_index_that_finishes_next_run(tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    for i in range(8):
        (kb / f"article-{i}.md").write_text(f"# Article {i}\n\n## Part A\n\nTopic {i} alpha text.\n\n## Part B\n\nTopic {i} beta text.\n")
    index_dir = tmp_path / "index"
    env = {**os.environ, "DESKMATE_INDEX_BATCH_DELAY": "1"}  # slow each batch so the kill lands mid-run
    cmd = [sys.executable, "-m", "retrieval.index", str(kb), "--index_dir", str(index_dir), "--embed_batch_size", "1"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen: list[str] = []
    threading.Thread(target=_read_progress, args=(proc.stderr, seen), daemon=True).start()
    deadline = time.time() + 180
    try:
        while time.time() < deadline and proc.poll() is None:
            done = [int(m) for m in re.findall(r"(\d+)/16 ", "".join(seen))]
            if done and 10 <= max(done) < 16:  # the first window of documents (8 chunks) is stored
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the indexer finished before it could be interrupted:\n" + "".join(seen)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()

    cfg = RetrievalConfig(kb_dir=str(kb), index_dir=str(index_dir))
    searcher = Searcher(cfg)
    partial = searcher.count()
    assert 0 < partial < 16
    assert searcher.search("Topic 0 alpha text")  # opens and searches

    finished = build_index(cfg, progress=False)
    assert finished.chunks == 16 and finished.added + finished.updated > 0
    assert finished.embedded <= 8  # documents stored before the kill are kept
    assert build_index(cfg, progress=False).unchanged == 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [str(VENV_BIN / "chroma"), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the chroma server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_chroma_server_uses_the_same_code_path(tmp_path, chroma_server):
    kb = small_kb(tmp_path)
    cfg = RetrievalConfig(kb_dir=str(kb), chroma_url=chroma_server, collection="served")
    assert build_index(cfg, progress=False).added == 4
    assert build_index(cfg, progress=False).unchanged == 4
    passages = Searcher(cfg).search("what does error ZX-4417 mean?")
    assert passages[0].source == "warranty.md" and passages[0].section == "Error codes"


def test_unreachable_server_is_a_clear_error():
    cfg = RetrievalConfig(chroma_url=f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(IndexUnavailableError, match="chroma run"):
        Searcher(cfg)
