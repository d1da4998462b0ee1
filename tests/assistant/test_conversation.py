"""Follow-up questions: what the search is given, with the real embedding model on the demo help center."""

from __future__ import annotations

from assistant.conversation import search_queries, standalone_question

WARRANTY = "warranty/standard-warranty.md"


def conversation(*turns: str) -> list[dict]:
    roles = ["user", "assistant"] * len(turns)
    return [{"role": role, "content": text} for role, text in zip(roles, turns)]


def test_a_message_that_stands_alone_is_searched_as_sent():
    history = conversation("do you ship to canada?", "Yes, we ship to Canada. [1]", "How long is the warranty on the Dome?")
    assert search_queries(history, history[-1]["content"]) == ["How long is the warranty on the Dome?"]


def test_a_follow_up_is_also_searched_with_the_answer_it_follows(assistant, searcher):
    """The customer's words never name the warranty; the answer they follow does."""
    latest = "what if that model isn't sold anymore?"
    history = conversation("the left earcup of my arc went quiet, is that covered?",
                           "Yes, sound from only one side is a defect the standard warranty covers. We'll repair it "
                           "or replace it with the same model. [1]", latest)
    queries = search_queries(history, latest)
    assert queries[0] == standalone_question(history, latest)
    assert latest in queries[1] and "[1]" not in queries[1] and "replace it with the same model" in queries[1]
    assert WARRANTY not in [p.source for p in searcher.search(queries[0], 5)]
    assert WARRANTY in [p.source for p in assistant._search(queries, 1, 5)]  # the fused search a message gets
