"""The admin page's work: uploads, incremental re-index with progress, documents, adapters, feedback."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.feedback import FeedbackStore
from ui import admin_tasks as tasks

KB_DIR = Path(__file__).resolve().parents[2] / "data" / "kb"


def test_upload_names_cannot_escape_the_knowledge_base(tmp_path):
    assert tasks.safe_name("../../etc/passwd.md") == "passwd.md"
    assert tasks.safe_name("Return policy (2024).md") == "Return-policy-2024-.md"
    bad = tmp_path / "tool.exe"
    bad.write_text("x")
    with pytest.raises(tasks.AdminError, match="not a supported document"):
        tasks.save_uploads([str(bad)], tmp_path / "kb")
    with pytest.raises(tasks.AdminError, match="Choose one or more"):
        tasks.save_uploads([], tmp_path / "kb")


def test_uploaded_document_is_searchable_after_reindex(tmp_path):
    from retrieval.config import RetrievalConfig
    from retrieval.search import Searcher

    kb = tmp_path / "kb"
    (kb / "shipping").mkdir(parents=True)
    shutil.copy(KB_DIR / "shipping" / "tracking-your-parcel.md", kb / "shipping")
    (kb / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    # A floor that a gift-card question does not reach in a help center of one shipping article.
    cfg = RetrievalConfig(kb_dir=str(kb), index_dir=str(tmp_path / "index"), min_score=0.35)
    searcher = Searcher(cfg)
    assistant = SimpleNamespace(cfg=SimpleNamespace(retrieval=cfg), searcher=searcher, reload_index=searcher.refresh)
    tasks.reindex(assistant)
    assert not assistant.searcher.search("gift card balance for the Kestrel hub")

    article = tmp_path / "Gift cards.md"
    article.write_text("# Gift cards\n\nKestrel gift cards never expire. Check a gift card balance in your account.\n")
    assert tasks.save_uploads([str(article)], kb) == ["uploads/Gift-cards.md"]
    calls = []
    summary = tasks.reindex(assistant, on_progress=lambda done, total: calls.append((done, total)))
    assert summary.added == 1 and calls and calls[-1][0] == calls[-1][1]
    assert assistant.searcher.search("gift card balance")[0].source == "uploads/Gift-cards.md"

    rows = {row[0]: row for row in tasks.documents_table(assistant)}
    assert rows["uploads/Gift-cards.md"][1] >= 1 and rows["uploads/Gift-cards.md"][2] == "indexed"
    assert rows["broken.pdf"][2].startswith("failed:")
    assert all(r[1] > 0 for name, r in rows.items() if name.startswith("shipping/"))


def test_adapter_choices_come_from_the_registry(tmp_path):
    assert tasks.adapter_choices(tmp_path) == [tasks.BASE_MODEL_CHOICE]
    (tmp_path / "registry.json").write_text(json.dumps({"aliases": {"latest": "run-2"},
                                                        "runs": {"run-1": {}, "run-2": {}}}))
    assert tasks.adapter_choices(tmp_path) == [tasks.BASE_MODEL_CHOICE, "latest", "run-1", "run-2"]


def test_switching_adapters_goes_through_the_assistant():
    served = []
    assistant = SimpleNamespace(use_adapter=served.append)
    assert tasks.switch_adapter(assistant, tasks.BASE_MODEL_CHOICE) == tasks.BASE_MODEL_CHOICE
    assert tasks.switch_adapter(assistant, "latest") == "latest"
    assert served == ["", "latest"]
    with pytest.raises(tasks.AdminError, match="restart"):
        tasks.switch_adapter(SimpleNamespace(), "latest")


def test_recent_feedback_table_shows_newest_first(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.add_feedback(question="q1", answer="a1", rating=1)
    store.add_feedback(question="q2", answer="a2", rating=-1, better_answer="b2", adapter="latest")
    rows = tasks.feedback_table(store)
    assert [r[3] for r in rows] == ["q2", "q1"] and rows[0][2] == "👎" and rows[0][5:] == ["b2", "latest"]


def test_admin_actions_refuse_without_login(tmp_path):
    import gradio as gr

    from ui.admin import AdminHandlers
    from ui.service import ChatService
    from assistant.config import UIConfig

    service = ChatService(SimpleNamespace(), FeedbackStore(tmp_path / "fb.sqlite3"))
    on = AdminHandlers(service, UIConfig(admin_password="s3cret"))
    assert on.login("admin", "wrong")[:2] == (False, "Wrong user or password.")
    for action in (lambda: on.save(False, []), lambda: on.reindex(False), lambda: on.switch(False, "latest"),
                   lambda: on.refresh(False), lambda: on.export(False)):
        with pytest.raises(gr.Error, match="Log in first"):
            action()
    assert on.refresh(True) == []


def test_admin_exports_stored_conversations_as_training_dialogues(tmp_path):
    from ui.admin import AdminHandlers
    from ui.service import ChatService
    from assistant.config import UIConfig

    store = FeedbackStore(tmp_path / "app.sqlite3")
    store.add_turns("c1", [{"role": "user", "content": "hello, I'm ann@example.com"},
                           {"role": "assistant", "content": "Hi! I'm Kess. How can I help?", "answer_id": "a1"}])
    store.add_turns("c2", [{"role": "user", "content": "anyone there?"}])  # never answered: not exported
    on = AdminHandlers(ChatService(SimpleNamespace(), store), UIConfig(admin_password="s3cret"))
    status, path = on.export(True)
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()]
    assert status.startswith("1 conversation written to conversations-sft-") and len(lines) == 1
    assert [m["role"] for m in lines[0]["messages"]] == ["user", "assistant"]
    assert "ann@example.com" not in Path(path).read_text()


def test_a_failing_export_says_why(tmp_path):
    (tmp_path / "app.sqlite3").write_text("not a database")
    with pytest.raises(tasks.AdminError, match="The export failed: .+"):
        tasks.export_conversations(tmp_path / "app.sqlite3")
