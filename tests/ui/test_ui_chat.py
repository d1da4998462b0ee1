"""The chat page's handlers with the real assistant: streaming, sources, handoff, errors, retry/undo."""

import dataclasses
import re

import pytest

from assistant.feedback import FeedbackStore
from ui.chat_handlers import NEW_SESSION, answer_stream, drop_last_question
from ui.render import conversation_turns, message_text
from ui.service import ChatService


@pytest.fixture(scope="module")
def service(generator, searcher, app_config, tmp_path_factory):
    from assistant.assistant import Assistant

    cfg = dataclasses.replace(app_config, chat=dataclasses.replace(app_config.chat, max_new_tokens=32))
    store = FeedbackStore(tmp_path_factory.mktemp("chat") / "feedback.sqlite3")
    return ChatService(Assistant(generator, searcher, cfg), store)


def run(service, question, history=None, session=None):
    steps = list(answer_stream(service, question, history or [], session or NEW_SESSION))
    history, sources, session = steps[-1]
    return steps, history, sources, session


def test_answer_streams_after_a_collapsible_search_step_and_fills_the_sources_panel(service):
    steps, history, sources, session = run(service, "Can I return opened headphones?")
    assert len(steps) > 3, "the answer did not stream in pieces"
    search = next(m for m in history if m.get("metadata"))
    assert search["metadata"]["title"].startswith("🔎 Searched the help center for")
    answer = history[-1]
    assert answer["role"] == "assistant" and re.search(r"\[\d\]", answer["content"])
    answer_id = session["answers"][str(len(history) - 1)]
    record = service.record(answer_id)
    assert record.question == "Can I return opened headphones?" and record.citations
    first = record.citations[0]
    assert f"[{first['number']}]" in answer["content"]
    assert f"**[{first['number']}] {first['title']}**" in sources and record.citations[0]["source"] in sources
    assert session["history"] == history and session["conversation_id"]
    stored = service.store.conversation(session["conversation_id"])  # kept server-side too, for the export
    assert [(t["role"], t["content"]) for t in stored] == [("user", "Can I return opened headphones?"),
                                                           ("assistant", answer["content"])]
    assert stored[1]["answer_id"] == answer_id and stored[1]["passages"]
    # Only the real turns go back to the model on the next question.
    assert [t["role"] for t in conversation_turns(history)] == ["user", "assistant"]


def test_asking_for_a_person_shows_the_handoff_and_records_the_conversation(service):
    _, history, _, session = run(service, "I want to talk to a person")
    assert history[-1]["content"].startswith("🙋 A person from our support team will take over")
    ticket = service.store.handoffs(1)[0]
    assert f"ticket #{ticket['id']}" in history[-1]["content"]
    assert ticket["conversation_id"] == session["conversation_id"]
    assert ticket["transcript"][0] == {"role": "user", "content": "I want to talk to a person"}


@pytest.mark.parametrize("question, expected", [("", "empty"), ("tell me " * 1000, "limit")])
def test_bad_input_gets_a_message_in_the_chat(service, question, expected):
    _, history, _, _ = run(service, question)
    assert history[-1]["content"].startswith("⚠️") and expected in history[-1]["content"]


def test_a_failing_index_shows_an_error_and_the_next_question_works(service, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(service.assistant.searcher, "search", broken)
    _, history, _, session = run(service, "Where is my parcel?")
    assert "Something went wrong" in history[-1]["content"] and "disk gone" not in history[-1]["content"]
    monkeypatch.undo()
    _, history, _, _ = run(service, "I want to talk to a person", history, session)
    assert history[-1]["content"].startswith("🙋")


def test_undo_and_retry_drop_the_last_question_and_what_followed():
    history = [
        {"role": "user", "content": [{"type": "text", "text": "first"}]},
        {"role": "assistant", "content": "answer one [1]"},
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "", "metadata": {"title": "🔎 Searched"}},
        {"role": "assistant", "content": "answer two"},
    ]
    session = {"conversation_id": "c", "history": history, "answers": {"1": "a1", "4": "a2"}}
    kept, session, question = drop_last_question(history, session)
    assert question == "second" and [message_text(m) for m in kept] == ["first", "answer one [1]"]
    assert session["answers"] == {"1": "a1"} and session["history"] == kept
