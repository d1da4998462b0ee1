"""Conversations live in the app's database: they survive a restart, are shared between processes, and export
as SFT dialogues with personal data masked."""

import json
import subprocess
import sys

import pytest

from assistant.feedback import FeedbackStore
from training.data import load_samples
from training.export import export_conversations
from ui.service import ChatService


def converse(service, conversation_id, message):
    turns = [*service.turns(conversation_id), {"role": "user", "content": message}]
    return list(service.converse(conversation_id, turns))[-1][1]


def test_a_conversation_survives_a_restart_and_is_shared_with_another_process(assistant, tmp_path):
    db = tmp_path / "app.sqlite3"
    first = ChatService(assistant, FeedbackStore(db))
    hello = converse(first, "c1", "Hi, who are you?")
    answer = converse(first, "c1", "Can I return opened headphones?")
    converse(first, "c1", "You can reach me at jo@example.com")
    assert answer["citations"] and hello["small_talk"]
    first.store.close()

    restarted = ChatService(assistant, FeedbackStore(db))  # a new app process on the same database
    turns = restarted.turns("c1")
    assert [t["role"] for t in turns] == ["user", "assistant"] * 3
    assert turns[2]["content"] == "Can I return opened headphones?" and turns[3]["content"] == answer["answer"]
    assert turns[4]["content"] == "You can reach me at [email]"  # personal data is masked before it is stored
    feedback_id = restarted.feedback(answer["answer_id"], "up")  # an answer given before the restart
    stored = restarted.store.feedback()[-1]
    assert stored["id"] == feedback_id and stored["passages"] and stored["question"] == turns[2]["content"]

    other = subprocess.run(
        [sys.executable, "-c", "import json, sys; from assistant.feedback import FeedbackStore; "
         "print(json.dumps(FeedbackStore(sys.argv[1]).conversation('c1')))", str(db)],
        capture_output=True, text=True, check=True)
    assert [t["content"] for t in json.loads(other.stdout)] == [t["content"] for t in turns]


def test_conversations_export_as_valid_sft_dialogues(assistant, tmp_path):
    db = tmp_path / "app.sqlite3"
    service = ChatService(assistant, FeedbackStore(db))
    converse(service, "c2", "hello")
    answer = converse(service, "c2", "How long does a refund take to reach my card? My card is 4111 1111 1111 1111")
    out, count = export_conversations(db, tmp_path / "sft.jsonl")
    assert count == 1
    line = json.loads(out.read_text())
    roles = [m["role"] for m in line["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "tool", "assistant"]  # search call and its passages
    assert line["messages"][-1]["content"] == answer["answer"]
    assert "4111" not in out.read_text()
    report = load_samples([str(out)], "sft")
    assert not report.errors and len(report.samples) == 1


def test_conversations_export_their_first_questions_to_label_for_the_gate(tmp_path):
    from assistant.grounding.calibration import CalibrationError, labelled_questions
    from training.export import export_questions

    db = tmp_path / "app.sqlite3"
    store = FeedbackStore(db)
    store.add_turns("c1", [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "Hi, I'm Kess."}])
    store.add_turns("c1", [{"role": "user", "content": "Do you ship to Mars? I'm jo@example.com"},
                           {"role": "assistant", "content": "I don't know that from our help center."}])
    store.add_turns("c1", [{"role": "user", "content": "and to the moon?"}, {"role": "assistant", "content": "No."}])
    store.add_turns("c2", [{"role": "user", "content": "do you ship to mars?  I'm jo@example.com"},
                           {"role": "assistant", "content": "I don't know."}])
    store.add_turns("c3", [{"role": "user", "content": "thanks!"}, {"role": "assistant", "content": "You're welcome."}])
    store.close()

    out, count = export_questions(db, tmp_path / "to-label.jsonl")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert count == 1 and rows == [{"question": "Do you ship to Mars? I'm [email]", "answerable": None,
                                    "served_answer": "I don't know that from our help center.", "conversation_id": "c1"}]
    with pytest.raises(CalibrationError, match='has no label: add "answerable": true or false'):
        labelled_questions(out)  # unlabelled questions never set the gate's threshold
