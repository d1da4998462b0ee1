"""The feedback store: durable rows, masked personal data, safe concurrent writes."""

import sqlite3
import threading

import pytest

from assistant.feedback import FeedbackStore, FeedbackStoreError, mask_personal_data


def test_masks_emails_phones_and_card_numbers():
    text = ("Mail jane.doe+kestrel@example.co.uk or call +1 (415) 555-0134; "
            "card 4111 1111 1111 1111, order KA-2041 within 30 days.")
    masked = mask_personal_data(text)
    assert "jane.doe" not in masked and "[email]" in masked
    assert "555-0134" not in masked and "[phone]" in masked
    assert "4111" not in masked and "[card]" in masked
    assert "KA-2041" in masked and "30 days" in masked


def test_feedback_row_is_on_disk_when_add_returns(tmp_path):
    path = tmp_path / "fb.sqlite3"
    store = FeedbackStore(path)
    row_id = store.add_feedback(question="My email is a@b.io, where is my order?", answer="See [1].", rating=-1,
                                passages=[{"number": 1, "text": "Track orders at kestrel.example/track"}],
                                citations=[{"number": 1, "source": "orders/tracking.md"}], adapter="latest")
    store.set_better_answer(row_id, "Call me on 020 7946 0958 instead")
    # A second, independent connection sees the committed row.
    row = sqlite3.connect(path).execute(
        "SELECT rating, question, better_answer, adapter, passages FROM feedback WHERE id = ?", (row_id,)).fetchone()
    assert row[0] == -1 and row[3] == "latest"
    assert "a@b.io" not in row[1] and "[email]" in row[1]
    assert "7946" not in row[2] and "[phone]" in row[2]
    assert "kestrel.example/track" in row[4]
    assert FeedbackStore(path).feedback()[0]["passages"][0]["number"] == 1  # reopening keeps the schema


def test_rejects_a_rating_other_than_up_or_down(tmp_path):
    with pytest.raises(FeedbackStoreError, match="Rating must be"):
        FeedbackStore(tmp_path / "fb.sqlite3").add_feedback(question="q", answer="a", rating=5)


def test_unwritable_path_gives_a_message_that_says_what_to_do(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FeedbackStoreError, match="DESKMATE_FEEDBACK_DB"):
        FeedbackStore(blocker / "fb.sqlite3")


def test_concurrent_writes_lose_no_rows(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")

    def write(n):
        for i in range(25):
            store.add_feedback(question=f"q{n}-{i}", answer="a", rating=1)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 200
    assert len({r["question"] for r in store.feedback()}) == 200


def test_handoff_keeps_the_masked_transcript(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    ticket = store.add_handoff(transcript=[{"role": "user", "content": "I'm bob@site.com, refund please"}],
                               reason="customer asked", conversation_id="c1")
    (row,) = store.handoffs()
    assert row["id"] == ticket and row["conversation_id"] == "c1"
    assert row["transcript"] == [{"role": "user", "content": "I'm [email], refund please"}]


def test_a_v1_database_keeps_its_rows_and_gains_the_comparisons_table(tmp_path):
    from assistant.feedback import MIGRATIONS

    path = tmp_path / "fb.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version = 1; COMMIT;")
    old.execute("INSERT INTO feedback (created_at, rating, question, answer) VALUES ('2026-01-01', -1, 'q', 'a')")
    old.commit()
    old.close()

    store = FeedbackStore(path)
    assert [(r["question"], r["rating"]) for r in store.feedback()] == [("q", -1)]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert store.count("comparisons") == 0
    store.add_comparison(question="q", answer_a="a", answer_b="b", choice="a", adapter_a="latest")
    assert store.comparisons()[0]["adapter_a"] == "latest"
