"""The API end to end: a live app answered through gradio_client, feedback and handoffs on disk."""

import dataclasses
import sqlite3
import threading
from pathlib import Path

import pytest

from ui.app import build_app
from assistant.config import UIConfig

KB_DIR = Path(__file__).resolve().parents[2] / "data" / "kb"
OFF_TOPIC = "What is the boiling point of mercury in kelvin?"  # nothing in the help center to answer from


@pytest.fixture(scope="module")
def short_assistant(generator, searcher, app_config):
    """The real assistant with short answers, so the API tests stay quick."""
    from assistant.assistant import Assistant

    cfg = dataclasses.replace(app_config, chat=dataclasses.replace(app_config.chat, max_new_tokens=32))
    return Assistant(generator, searcher, cfg)


@pytest.fixture(scope="module")
def live_app(short_assistant, tmp_path_factory):
    from assistant.feedback import FeedbackStore

    store = FeedbackStore(tmp_path_factory.mktemp("feedback") / "feedback.sqlite3")
    app = build_app(short_assistant, feedback=store, settings=UIConfig(concurrency=2))
    app.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture(scope="module")
def client(live_app):
    from gradio_client import Client

    return Client(live_app.local_url, verbose=False)


def test_only_the_documented_endpoints_are_public(client):
    assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == {
        "/chat", "/chat_stream", "/search", "/feedback", "/handoff"}


def test_chat_answers_with_citations_and_feedback_is_stored_with_its_context(client, live_app):
    result = client.predict("Can I return opened headphones?", "", api_name="/chat")
    assert "error" not in result, result
    assert result["conversation_id"] and result["answer_id"]
    assert result["citations"], f"no citation in {result['answer']!r}"
    for citation in result["citations"]:
        assert (KB_DIR / citation["source"]).is_file()
        assert f"[{citation['number']}]" in result["answer"]
    assert result["grounded"] is True and result["handoff"] is False

    stored = client.predict(result["answer_id"], "down", "Mail me at jo@example.com with the link", api_name="/feedback")
    assert stored["stored"] is True
    row = sqlite3.connect(live_app.service.store.path).execute(
        "SELECT rating, question, answer, better_answer, passages, citations FROM feedback WHERE id = ?",
        (stored["feedback_id"],)).fetchone()
    assert row[0] == -1 and row[1] == "Can I return opened headphones?" and row[2] == result["answer"]
    assert row[3] == "Mail me at [email] with the link"
    assert result["citations"][0]["source"] in row[4] and result["citations"][0]["source"] in row[5]


def test_without_evidence_the_answer_refuses_instead_of_guessing(client):
    result = client.predict(OFF_TOPIC, "", api_name="/chat")
    assert result["citations"] == [] and result["grounded"] is False and result["refused"] is True
    assert result["handoff"] is False and "handoff_ticket" not in result


def test_asking_for_a_person_hands_off_and_records_the_whole_conversation(client, live_app):
    first = client.predict(OFF_TOPIC, "", api_name="/chat")
    result = client.predict("Can I talk to a person please?", first["conversation_id"], api_name="/chat")
    assert result["conversation_id"] == first["conversation_id"] and result["handoff"] is True
    (ticket,) = [h for h in live_app.service.store.handoffs() if h["id"] == result["handoff_ticket"]]
    assert [t["content"] for t in ticket["transcript"]][::2] == [OFF_TOPIC, "Can I talk to a person please?"]
    assert len(ticket["transcript"]) == 4


@pytest.mark.parametrize("message, expected", [("   ", "empty"), ("x" * 50_000, "limit"), (None, "empty")])
def test_bad_messages_get_an_error_message_not_a_crash(client, message, expected):
    result = client.predict(message, "", api_name="/chat")
    assert expected in result["error"]


def test_search_endpoint_returns_numbered_passages(client):
    result = client.predict("return my headphones", 3, api_name="/search")
    passages = result["passages"]
    assert 1 <= len(passages) <= 3 and [p["number"] for p in passages] == list(range(1, len(passages) + 1))
    assert all((KB_DIR / p["source"]).is_file() for p in passages)
    assert "empty" in client.predict("  ", 3, api_name="/search")["error"]


def test_feedback_endpoint_rejects_unknown_answers_and_ratings(client):
    assert "No answer" in client.predict("nope", "up", "", api_name="/feedback")["error"]
    answer = client.predict(OFF_TOPIC, "", api_name="/chat")
    result = client.predict(answer["answer_id"], "meh", "", api_name="/feedback")
    assert result["stored"] is False and "'up' or 'down'" in result["error"]


def test_handoff_endpoint_records_the_conversation(client, live_app):
    answer = client.predict(OFF_TOPIC, "", api_name="/chat")
    result = client.predict(answer["conversation_id"], "wants a refund", api_name="/handoff")
    (row,) = [h for h in live_app.service.store.handoffs() if h["id"] == result["ticket"]]
    assert [t["role"] for t in row["transcript"]] == ["user", "assistant"] and row["reason"] == "wants a refund"


def test_a_failing_index_gives_an_error_and_the_app_keeps_serving(client, short_assistant, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("index file is corrupt")

    monkeypatch.setattr(short_assistant.searcher, "search", broken)
    failed = client.predict(OFF_TOPIC, "", api_name="/chat")
    assert "Something went wrong" in failed["error"] and "corrupt" not in failed["error"]
    monkeypatch.undo()
    assert client.predict(OFF_TOPIC, "", api_name="/chat")["refused"] is True


def test_concurrent_clients_all_get_answers_and_no_feedback_is_lost(live_app):
    from gradio_client import Client

    before = live_app.service.store.count()
    results, errors = [], []

    def converse(question):
        try:
            c = Client(live_app.local_url, verbose=False)
            answer = c.predict(question, "", api_name="/chat")
            results.append(c.predict(answer["answer_id"], "up", "", api_name="/feedback"))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    questions = [OFF_TOPIC, "Who won the 1998 world cup?", "Recommend a pasta recipe", "What is 17 times 23?"]
    threads = [threading.Thread(target=converse, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and all(r["stored"] for r in results) and len(results) == 4
    assert live_app.service.store.count() == before + 4
