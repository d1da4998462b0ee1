from assistant.citations import verify
from retrieval.passages import Passage


def passage(n, text, source="returns/start-a-return.md"):
    return Passage(n, text, source, source, "Start a return", "Steps", f"{source}#{n}", 0.8)


PASSAGES = [
    passage(1, "You can return any item within 30 days of delivery for a full refund."),
    passage(2, "Refunds reach your card within 5 to 7 business days.", "returns/refunds.md"),
]


def test_markers_naming_no_passage_are_removed():
    text, citations = verify("Returns are accepted within 30 days [1]. Also see [7].", PASSAGES, False)
    assert "[7]" not in text and "[1]" in text
    assert [c.number for c in citations] == [1]
    assert citations[0].source == "returns/start-a-return.md"


def test_answer_citing_nothing_has_no_citations():
    text, citations = verify("I think it is fine.", PASSAGES, True)
    assert citations == [] and text == "I think it is fine."


def test_supported_uncited_sentence_is_attributed_to_its_passage():
    text, citations = verify("Refunds reach your card within 5 to 7 business days.", PASSAGES, True)
    assert text == "Refunds reach your card within 5 to 7 business days [2]."
    assert [c.doc_id for c in citations] == ["returns/refunds.md"]


def test_unsupported_sentence_is_not_attributed():
    text, citations = verify("Our stores open at nine on Sundays in Paris.", PASSAGES, True)
    assert citations == []
