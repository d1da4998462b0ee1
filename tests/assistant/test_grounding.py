"""The grounding checks on the demo knowledge base, with the real embedding and chat models."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from assistant.grounding import cache_path, fingerprint
from assistant.grounding.extractive import closeness, closest_sentences
from assistant.grounding.text import draft_sentences, statement_sentences
from assistant.metrics import sentence_support
from retrieval.passages import Passage

ROOT = Path(__file__).resolve().parents[2]
WARRANTY = "warranty/standard-warranty.md"


@pytest.fixture(scope="module")
def grounding(assistant):
    return assistant.grounding


@pytest.fixture(scope="module")
def warranty_passages(searcher):
    found = searcher.search("warranty length by region", 4)
    table = [p for p in found if p.source == WARRANTY and "United Kingdom" in p.text]
    assert table, "the warranty table should be retrieved"
    return found


def table_number(passages: list[Passage]) -> int:
    return next(p.number for p in passages if p.source == WARRANTY and "United Kingdom" in p.text)


def test_a_sentence_with_a_changed_number_is_dropped(grounding, warranty_passages):
    n = table_number(warranty_passages)
    right = f"In the United Kingdom the standard warranty is 2 years [{n}]."
    wrong = f"In the United Kingdom the standard warranty is 5 years [{n}]."
    assert [s for s, _ in grounding.supported_sentences(right, warranty_passages)]
    assert grounding.supported_sentences(wrong, warranty_passages) == []


def test_a_negated_claim_is_dropped(grounding, searcher):
    passages = searcher.search("do refurbished products have a warranty", 4)
    source = next(p for p in passages if "Certified Refurbished products have a 1-year warranty" in p.text)
    claim = f"Certified Refurbished products have a 1-year warranty in every region [{source.number}]."
    negated = f"Certified Refurbished products do not have a 1-year warranty in every region [{source.number}]."
    assert grounding.supported_sentences(claim, passages)
    assert grounding.supported_sentences(negated, passages) == []


def test_an_off_topic_passage_never_carries_a_citation(grounding, searcher):
    passages = searcher.search("battery safety lithium shipping", 4)
    draft = "No, we don't sell car batteries [1]. Kestrel offers a lifetime warranty on every battery [2]."
    assert grounding.supported_sentences(draft, passages) == []
    text, citations = grounding.ground(draft, "Do you sell car batteries?", passages)
    assert "car batteries" not in text and "lifetime" not in text
    for citation in citations:  # what is shown instead is the passages' own words
        assert any(p.number == citation.number for p in passages)


def test_a_heading_read_back_or_a_link_is_not_an_answer_sentence(grounding, warranty_passages):
    n = table_number(warranty_passages)
    heading = next(p.heading for p in warranty_passages if p.number == n)
    draft = (f"{heading} [{n}]. See [Standard Warranty](../warranty/standard-warranty.md) [{n}]. "
             f"In the United Kingdom the standard warranty is 2 years [{n}].")
    assert [s for s, _ in grounding.supported_sentences(draft, warranty_passages)] == [
        "In the United Kingdom the standard warranty is 2 years."]


def test_a_supported_sentence_is_re_cited_to_the_passage_that_says_it(grounding, warranty_passages):
    n = table_number(warranty_passages)
    other = next(p.number for p in warranty_passages if p.number != n and "United Kingdom" not in p.text)
    kept = grounding.supported_sentences(f"In the United Kingdom the standard warranty is 2 years [{other}].",
                                         warranty_passages)
    assert [p.number for _, p in kept] == [n]


def chunk(searcher, query: str, source: str, words: str) -> Passage:
    return next(p for p in searcher.search(query, 8) if p.source == source and words in p.text)


def test_a_true_sentence_about_something_else_is_not_shown(grounding, searcher):
    codec = chunk(searcher, "arc cutting out LDAC connection priority", "troubleshooting/connection-drops.md",
                  "Connection priority")
    email = chunk(searcher, "change the email address on my account", "account/change-email-address.md",
                  "change the email address")
    passages = [dataclasses.replace(codec, number=1), dataclasses.replace(email, number=2)]
    draft = ("You can change the email address you use to sign in and receive order updates at any time [2]. "
             "Set Connection priority to Stable connection in the app [1].")
    assert len(grounding.supported_sentences(draft, passages)) == 2  # both true: the check alone keeps both
    text, citations = grounding.ground(draft, "My Arc keeps cutting out with LDAC, what can I change?", passages)
    assert "Stable connection" in text and "email" not in text
    assert [c.number for c in citations] == [1]


def test_a_follow_up_is_answered_about_what_it_asks_now(grounding):
    rows = ["Product: Kestrel Dome Max; Serial number location: On the back panel, under the rubber port cover.",
            "Product: Kestrel Hub; Serial number location: On the bottom."]
    asked = "where's the serial number on my dome max? and on the hub? i've looked all over it"
    alone = closeness(asked, rows, grounding.encoder, grounding.vocabulary)
    now = closeness(asked, rows, grounding.encoder, grounding.vocabulary, latest="and on the hub? i've looked all over it")
    assert alone[0] > alone[1], "the conversation alone leans to the product asked about first"
    assert now[1] > now[0], "with the latest message in view, the Hub's row is the closest"


def test_quoted_sentences_stay_in_the_article_that_answers(grounding, searcher):
    question = "how long is the warranty if i bought in the uk"
    passages = searcher.search(question, 4)

    def articles(**band):
        picked = closest_sentences(question, passages, grounding.encoder, grounding.vocabulary, 3, **band)
        return {p.source for _, p in picked}

    assert articles() == {WARRANTY}
    assert len(articles(other_article_within=0.3)) == 2, "a wide band lets a second article's sentence in"


def test_car_batteries_are_declined_with_the_offer_of_a_person(assistant, app_config):
    answer = assistant.answer([{"role": "user", "content": "Do you sell car batteries?"}])
    assert answer.refused and not answer.citations
    assert answer.text == app_config.chat.no_evidence_message
    assert "person" in answer.text


def test_every_shown_sentence_is_supported_by_what_it_cites(assistant, searcher):
    documents = {}
    for chunk in searcher.chunks():
        documents[chunk["source"]] = documents.get(chunk["source"], "") + "\n" + chunk["text"]
    for question in ("How long does a refund take to reach my card?", "How long do Pods 2 last on one charge?"):
        answer = assistant.answer([{"role": "user", "content": question}])
        assert not answer.refused, question
        supported, shown = sentence_support(answer.text, [p.to_dict() for p in answer.passages], documents)
        assert shown and supported == shown, answer.text


def test_the_refund_question_shows_the_cards_days_from_the_timelines_article(assistant):
    """Once declined with a garbled sentence; the help center's table says 3-10 business days."""
    answer = assistant.answer([{"role": "user", "content": "How long does a refund take to reach my card?"}])
    assert "3–10 business days" in answer.text, answer.text
    assert "returns/refund-timelines.md" in {c.source for c in answer.citations}


def test_passage_sentences_leave_out_headings_and_pointers_and_read_table_rows_with_their_columns():
    text = ("## Lost your phone?\n\nAfter we refund, the time depends on your payment method:\n\n"
            "| Payment method | Time to appear |\n|---|---|\n| PayPal | 1–3 business days |\n\n"
            "**Good to know**\n\nIdentity checks take up to 3 business days.\n\n"
            "For card refunds, see [Refund timelines](refund-timelines.md).\n\n"
            "Gift cards are refunded as a new [gift card](gift-cards.md) code by email.")
    assert statement_sentences(text) == ["Payment method: PayPal; Time to appear: 1–3 business days.",
                                         "Identity checks take up to 3 business days.",
                                         "Gift cards are refunded as a new gift card code by email."]


def test_a_draft_said_twice_or_echoing_the_tool_is_read_once():
    draft = ("<tool_response> Returns - Time limit (source: returns/policy.md)\n## Returns\n"
             "[1] Returns - Time limit [source: returns/policy.md] [1]\n"
             "Paste the promo code [2]. Paste the promo code [2]. Returns are accepted within 30 days [1].")
    assert draft_sentences(draft) == ["Paste the promo code [2].", "Returns are accepted within 30 days [1]."]


def test_an_earlier_answer_is_said_again_only_for_what_is_asked_now():
    """A follow-up never gets an earlier answer again, but a sentence whose new words are what the customer
    now asks about is the answer, however much of it was said before."""
    earlier = "That's fine: the Arc can be connected to two devices at once, and audio plays from whichever device " \
              "started playing most recently [1]."
    draft = "When two devices are connected, the assistant of the device that most recently played audio answers [1]."
    assert draft_sentences(draft, earlier, asked="so which one answers when i hold the panel?") == [draft]
    assert draft_sentences(draft, earlier, asked="does it support two devices?") == []


def test_a_follow_up_gets_the_table_row_it_asks_for(grounding, searcher):
    """Quoted sentences are taken closest first: the row asked about, not the table's first row."""
    latest = "i actually bought it from the uk store, what's it there?"
    asked = f"how much to fix my hub out of warranty in the us? {latest}"
    passages = searcher.search(asked, 4)
    text, _ = grounding.ground("", asked, passages, said_before="A flat $69, covering diagnosis, parts, labour and "
                               "shipping both ways. [1]", latest=latest)
    assert "Kestrel Hub; US: $69; Canada: CA$89; UK: £59" in text, text


def test_the_checks_are_cached_beside_the_index_for_the_same_chunks(assistant, searcher, grounding):
    path = cache_path(searcher.cfg)
    data = json.loads(path.read_text())
    settings = grounding.settings
    assert data["key"] == fingerprint(searcher.chunks(), searcher.cfg, settings)
    assert data["gate"]["threshold"] == grounding.gate.threshold
    changed = fingerprint(searcher.chunks()[1:], searcher.cfg, settings)
    assert changed != data["key"]


def test_supported_sentences_metric_reads_the_cited_document():
    passages = [{"number": 1, "source": "a.md", "text": "Refunds reach your card in 3-10 business days."}]
    documents = {"a.md": "Refunds reach your card in 3-10 business days after we receive the parcel."}
    assert sentence_support("Refunds reach your card in 3-10 business days [1].", passages, documents) == (1, 1)
    assert sentence_support("Refunds reach your card in 30 business days [1].", passages, documents) == (0, 1)
    assert sentence_support("Refunds reach your card in 3-10 business days.", passages, documents) == (0, 1)


def test_labelled_questions_set_the_gate_threshold_and_it_follows_a_rebuild(searcher, grounding, tmp_path):
    from assistant.grounding import Grounding
    from assistant.grounding.calibration import (
        Calibration, calibrate, calibration_path, labelled_questions)

    rows = [json.loads(line) for line in (ROOT / "data/eval/questions.jsonl").read_text().splitlines()[:30]]
    file = tmp_path / "labelled.jsonl"
    file.write_text("".join(json.dumps({"question": r["question"], "answerable": r["answerable"]}) + "\n" for r in rows))
    questions = labelled_questions(file)
    path = calibration_path(searcher.cfg)
    fresh = Grounding.for_searcher(searcher, grounding.settings, calibrated=False)
    try:
        calibration = Calibration(questions, 0.25, source=file.name)
        scores = calibrate(fresh, searcher, calibration)
        threshold = calibration.threshold
        calibration.save(path)
        answerable = [p for ok, p in scores if ok]
        declined = sum(p < threshold for p in answerable)
        assert 0.25 * len(answerable) - 1 <= declined <= 0.25 * len(answerable)

        served = Grounding.for_searcher(searcher, grounding.settings)
        assert served.gate.threshold == threshold and served.calibration.source == "labelled.jsonl"

        saved = json.loads(path.read_text())
        path.write_text(json.dumps({**saved, "key": "checks built for other chunks", "threshold": 0.99}))
        rebuilt = Grounding.for_searcher(searcher, grounding.settings)
        assert rebuilt.gate.threshold == pytest.approx(threshold)
        assert json.loads(path.read_text())["key"] == rebuilt.key
    finally:
        path.unlink(missing_ok=True)
    assert Grounding.for_searcher(searcher, grounding.settings).gate.threshold == fresh.made_up_threshold


@pytest.mark.parametrize("line, error", [
    ('{"question": "how long does a refund take"}', 'has no label: add "answerable": true or false'),
    ('{"question": "how long does a refund take", "answerable": "false"}', 'write true or false, without quotes'),
])
def test_calibration_refuses_unlabelled_questions_before_building_anything(tmp_path, capsys, line, error):
    from training.grounding import main

    file = tmp_path / "labelled.jsonl"
    file.write_text(line + "\n")
    assert main(["--calibrate", str(file), "--index_dir", str(tmp_path / "index")]) == 2
    assert error in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


def test_cross_validated_calibration_holds_its_false_refusals_on_held_out_folds():
    from assistant.grounding.calibration import cross_validated

    scores = [(True, 0.5 + i / 100) for i in range(40)] + [(False, i / 100) for i in range(10)]
    result = cross_validated(scores, 0.10)
    assert result["refusal_accuracy"] == 1.0
    assert result["false_refusals"] <= 0.15
