"""Preference pairs from stored UI feedback, and `training.dpo --data feedback` (no model is loaded)."""

import json
import sqlite3

import pytest

from assistant.feedback import FeedbackStore
from retrieval.passages import Passage, format_passages
from training.config import DPORunConfig
from training.data import file_hashes, load_samples
from training.errors import TrainingError
from training.preferences import FeedbackExportError, export_pairs, main, resolve_feedback_data

REFUND = Passage(1, "Card refunds take 3-10 business days to appear after we refund.", "returns/refund-timelines.md",
                 "returns/refund-timelines.md", "Refund Timelines", "Step 3", "rt-3", 0.71)
STUDENT = Passage(1, "Students get 15% off most Kestrel products.", "billing/student-discount.md",
                  "billing/student-discount.md", "Student Discount", "Student Discount", "sd-0", 0.66)
GOOD_REFUND = "Card refunds take 3-10 business days after we refund [1]."
WRITTEN = "Students get 15% off most Kestrel products [1]."


def seed(path):
    """One row of every case; returns the store's path."""
    store = FeedbackStore(path)
    refund, student = [REFUND.to_dict()], [STUDENT.to_dict()]
    store.add_feedback(question="How long do refunds take?", answer="Refunds are instant [1].", rating=-1,
                       passages=refund, better_answer=GOOD_REFUND)                                  # 1
    store.add_feedback(question="What % off do students get?", answer="Students get 15% off most products [1].",
                       rating=1, passages=student)                                                   # 2
    store.add_feedback(question="  what % OFF do   students get? ", answer="Students get 50% off [1].",
                       rating=-1, passages=student)                                                  # 3
    store.add_feedback(question="Do you ship to Mars?", answer="Yes, in 2 days.", rating=-1)         # 4
    store.add_feedback(question="Mail me at jo@example.com or call +1 415 555 0100: where is my refund?",
                       answer="Refunds are instant.", rating=-1, passages=refund,
                       better_answer="It takes 3-10 business days [1].")                             # 5
    store.add_feedback(question="Can I pay with bitcoin?", answer="Yes, we take bitcoin.", rating=-1,
                       better_answer="I don't know that from our help center.")                      # 6
    store.add_comparison(question="How long do refunds take?", answer_a="3-10 business days [1].",
                         answer_b="Instant.", choice="a", passages=refund)                           # 1
    store.add_comparison(question="How long do refunds take?", answer_a="Instant.",
                         answer_b="About a week [1].", choice="b", passages=refund)                  # 2
    store.add_comparison(question="Student discount?", answer_a="15% [1].", answer_b=WRITTEN, choice="written",
                         better_answer=WRITTEN, passages=student)                                    # 3
    store.add_comparison(question="talk to a human please", answer_a="Sure.", answer_b="I can help!",
                         choice="written", better_answer="I'm connecting you with a person now.")    # 4
    store.close()
    return path


@pytest.fixture
def exported(tmp_path):
    out, export = export_pairs(seed(tmp_path / "feedback.sqlite3"), tmp_path / "pairs.jsonl")
    return out, export, {p["source"]: p for p in export.pairs}


def texts(pair):
    return pair["chosen"][0]["content"], pair["rejected"][0]["content"]


def test_every_kind_of_pair(exported):
    _, export, by_source = exported
    assert sorted(by_source) == ["comparison:1", "comparison:2", "comparison:3", "comparison:4", "feedback:1",
                                 "feedback:2,3", "feedback:5", "feedback:6"]
    assert texts(by_source["feedback:1"]) == (GOOD_REFUND, "Refunds are instant [1].")
    assert by_source["feedback:1"]["kind"] == "better_answer"
    assert texts(by_source["feedback:2,3"]) == ("Students get 15% off most products [1].", "Students get 50% off [1].")
    assert by_source["feedback:2,3"]["kind"] == "rated"
    assert texts(by_source["comparison:1"]) == ("3-10 business days [1].", "Instant.")
    assert texts(by_source["comparison:2"]) == ("About a week [1].", "Instant.")
    # 'written' is paired against each side, except the side that says the same
    assert texts(by_source["comparison:3"]) == (WRITTEN, "15% [1].")
    assert sum(p["source"] == "comparison:4" for p in export.pairs) == 2
    assert {p["kind"] for p in export.pairs if p["source"].startswith("comparison")} == {"compare"}


def test_rows_without_a_pair_are_reported(exported):
    _, export, _ = exported
    assert export.skipped == [("feedback:4", "thumbs-down with no better answer and no thumbs-up to the same question")]
    summary = export.summary()
    assert "9 pairs" in summary and "rated: 1" in summary and "feedback:4" in summary


def test_prompt_is_the_serving_conversation(exported):
    _, _, by_source = exported
    user, call, result = by_source["feedback:1"]["prompt"]
    assert user == {"role": "user", "content": "How long do refunds take?"}
    function = call["tool_calls"][0]["function"]
    assert call["role"] == "assistant" and function["name"] == "search_knowledge_base"
    assert function["arguments"] == {"query": "How long do refunds take?"}
    assert result["role"] == "tool" and result["content"] == format_passages([REFUND])
    assert "3-10 business days to appear" in result["content"]
    # the rated pair uses the thumbs-up row's prompt: its [n] point at those passages
    assert by_source["feedback:2,3"]["prompt"][2]["content"] == format_passages([STUDENT])


def test_no_passages_means_an_empty_search_except_for_a_request_for_a_person(exported):
    _, _, by_source = exported
    assert by_source["feedback:6"]["prompt"][2]["content"] == format_passages([])
    assert by_source["comparison:4"]["prompt"] == [{"role": "user", "content": "talk to a human please"}]


def test_personal_data_stays_masked(tmp_path):
    db = seed(tmp_path / "feedback.sqlite3")
    with sqlite3.connect(db) as raw:  # a row written unmasked (e.g. by an older version) is masked on export
        raw.execute("UPDATE feedback SET better_answer = 'Write to jo@example.com or 415-555-0100 [1].' WHERE id = 1")
    out, export = export_pairs(db, tmp_path / "pairs.jsonl")
    text = out.read_text()
    assert "jo@example.com" not in text and "555" not in text
    by_source = {p["source"]: p for p in export.pairs}
    assert by_source["feedback:5"]["prompt"][0]["content"] == "Mail me at [email] or call [phone]: where is my refund?"
    assert by_source["feedback:1"]["chosen"][0]["content"] == "Write to [email] or [phone] [1]."


def test_written_file_validates(exported):
    out, export, _ = exported
    report = load_samples([str(out)], "dpo")
    assert not report.errors and not report.warnings
    assert len(report.samples) == len(export.pairs) == 9
    assert all(json.loads(line)["source"] for line in out.read_text().splitlines())


def test_duplicate_and_empty_rows_give_no_pair(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    store.add_feedback(question="Refund time?", answer="Three days [1].", rating=1, passages=[REFUND.to_dict()])
    for _ in range(2):
        store.add_feedback(question="refund time?", answer="Instant.", rating=-1, passages=[REFUND.to_dict()])
    store.add_feedback(question="Hi", answer="  ", rating=-1, better_answer="Hello!")
    store.close()
    _, export = export_pairs(tmp_path / "feedback.sqlite3", tmp_path / "pairs.jsonl")
    assert [p["source"] for p in export.pairs] == ["feedback:1,2"]
    assert export.skipped == [("feedback:1,3", "same pair as an earlier row"),
                              ("feedback:4", "empty question or answer")]


def test_command_writes_under_deskmate_home(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DESKMATE_HOME", str(tmp_path / "home"))
    assert main(["--db", str(seed(tmp_path / "feedback.sqlite3"))]) == 0
    out = tmp_path / "home" / "preferences" / "feedback-pairs.jsonl"
    assert len(out.read_text().splitlines()) == 9
    assert f"9 pairs written to {out}" in capsys.readouterr().out
    assert main(["--db", str(tmp_path / "missing.sqlite3")]) == 2
    assert not (tmp_path / "missing.sqlite3").exists()


def test_data_feedback_is_replaced_by_the_exported_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DESKMATE_HOME", str(tmp_path / "home"))
    cfg = DPORunConfig(data=["feedback", "data/dpo"], feedback_db=str(seed(tmp_path / "feedback.sqlite3")))
    used = resolve_feedback_data(cfg)
    out = str(tmp_path / "home" / "preferences" / "feedback-pairs.jsonl")
    assert cfg.data == [out, "data/dpo"]
    assert used["file"] == out and used["pairs"] == {"better_answer": 3, "rated": 1, "compare": 5}
    assert out in file_hashes(cfg.data)  # what the manifest records


def test_data_feedback_without_pairs_says_how_to_collect_them(tmp_path, monkeypatch):
    monkeypatch.setenv("DESKMATE_HOME", str(tmp_path / "home"))
    FeedbackStore(tmp_path / "empty.sqlite3").close()
    cfg = DPORunConfig(data=["feedback"], feedback_db=str(tmp_path / "empty.sqlite3"))
    with pytest.raises(TrainingError, match="gave no preference pairs(.|\n)*Rate answers in the web app"):
        resolve_feedback_data(cfg)
    with pytest.raises(FeedbackExportError, match="No feedback database"):
        resolve_feedback_data(DPORunConfig(data=["feedback"], feedback_db=str(tmp_path / "missing.sqlite3")))


def test_other_data_and_resumed_runs_are_left_alone(tmp_path):
    cfg = DPORunConfig(data=["data/dpo"])
    assert resolve_feedback_data(cfg) is None and cfg.data == ["data/dpo"]
    resumed = DPORunConfig(data=["feedback"], resume=True)
    assert resolve_feedback_data(resumed) is None and resumed.data == ["feedback"]
    with pytest.raises(TrainingError, match="--data feedback"):
        DPORunConfig(feedback_db=str(tmp_path / "x.sqlite3")).check()
