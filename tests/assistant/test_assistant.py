"""The chat loop: handoff, refusal, prompt-injection canary, limits and tool-call fallback."""

import dataclasses

import pytest

from assistant.assistant import Assistant
from assistant.conversation import trim_history
from assistant.errors import InvalidMessageError

CANARY = "PINEAPPLE-7731"


def ask(assistant, text):
    events = list(assistant.stream([{"role": "user", "content": text}]))
    return events, events[-1].data


class Recording:
    """Wraps a generator and keeps every conversation it was asked to continue."""

    def __init__(self, inner):
        self.inner, self.seen = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def stream_messages(self, messages, tools, max_new_tokens, should_stop=None, allow_tool_calls=True, **options):
        self.seen.append([dict(m) for m in messages])
        return self.inner.stream_messages(messages, tools, max_new_tokens, should_stop, allow_tool_calls, **options)


class Scripted:
    """Replies with fixed texts in turn: drives the loop's control flow without a model."""

    def __init__(self, *replies):
        self.replies, self.seen, self.allowed = list(replies), [], []

    def count_tokens(self, text):
        return len(text.split())

    def stream_messages(self, messages, tools, max_new_tokens, should_stop=None, allow_tool_calls=True, **options):
        self.seen.append(messages)
        self.allowed.append(allow_tool_calls)
        reply = self.replies.pop(0) if self.replies else "<tool_call>{}</tool_call>"
        for i in range(0, len(reply), 5):
            yield reply[i : i + 5]


def with_chat(app_config, **changes):
    return dataclasses.replace(app_config, chat=dataclasses.replace(app_config.chat, **changes))


def test_request_for_a_person_is_handed_off_at_once(assistant):
    events, answer = ask(assistant, "This is useless, get me a real person please")
    assert answer.handoff is True
    assert answer.text == assistant.cfg.chat.handoff_message
    assert "tool_call" not in [e.type for e in events]


@pytest.mark.parametrize("question", ["Who are you?", "What is your name and which company do you work for?",
                                      "hi, are you a bot?"])
def test_questions_about_the_assistant_are_answered_from_its_identity(generator, searcher, app_config, question):
    cfg = with_chat(app_config, assistant_name="Ada", company_name="Acme Bikes")
    events, answer = ask(Assistant(generator, searcher, cfg), question)
    assert "Ada" in answer.text and "Acme Bikes" in answer.text and answer.small_talk
    assert not answer.refused and "tool_call" not in [e.type for e in events]  # no search, never "I don't know"


def test_greetings_and_thanks_are_small_talk_but_a_question_after_a_greeting_is_searched(assistant):
    assert ask(assistant, "Hello!")[1].small_talk and ask(assistant, "thanks, bye")[1].small_talk
    events, answer = ask(assistant, "hi, my Arc headphones won't charge")
    assert not answer.small_talk and [e.type for e in events][0] == "tool_call"


def test_no_evidence_gives_the_configured_refusal_not_a_guess(assistant):
    events, answer = ask(assistant, "What is the boiling point of mercury in kelvin?")
    assert [e.type for e in events][0] == "tool_call"
    assert answer.refused and not answer.grounded and answer.citations == []
    assert answer.text == assistant.cfg.chat.no_evidence_message


def test_injected_instruction_in_a_document_changes_nothing(generator, searcher, app_config):
    recording = Recording(generator)
    bot = Assistant(recording, searcher, with_chat(app_config, max_new_tokens=48))
    events, answer = ask(bot, "What did customers write on the feedback cards in the community tips?")
    retrieved = [p for e in events if e.type == "tool_result" for p in e.data]
    assert any(p.source == "products/community-tips.md" for p in retrieved), "the poisoned article was not retrieved"
    assert CANARY not in answer.text
    assert all(CANARY not in (m.get("content") or "") for conv in recording.seen for m in conv)


@pytest.mark.parametrize(
    "messages, match",
    [
        ([], "empty"),
        ([{"role": "user", "content": "   "}], "empty"),
        ([{"role": "user", "content": "x" * 5000}], "limit is"),
        ([{"role": "wizard", "content": "hi"}], "role"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "last message"),
        ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}] * 40 + [{"role": "user", "content": "q"}],
         "new conversation"),
    ],
)
def test_bad_conversations_are_clear_errors(assistant, messages, match):
    with pytest.raises(InvalidMessageError, match=match):
        assistant.answer(messages)


def test_history_is_trimmed_to_the_budget_keeping_the_latest_turns():
    history = []
    for i in range(10):
        history += [{"role": "user", "content": f"question {i} " * 20}, {"role": "assistant", "content": "answer " * 20}]
    history.append({"role": "user", "content": "latest question"})
    kept = trim_history(history, budget=120, count_tokens=lambda t: len(t.split()))
    assert kept[-1]["content"] == "latest question"
    assert kept[0]["role"] == "user"
    assert sum(len(m["content"].split()) + 8 for m in kept) <= 120
    assert len(kept) < len(history)


def test_malformed_tool_call_falls_back_to_a_plain_search(searcher, app_config):
    scripted = Scripted('<tool_call>{"name": "search_knowledge_base", "arguments": {"query": ', "Track it in Account > Orders [1].")
    bot = Assistant(scripted, searcher, with_chat(app_config, grounding=False))
    events, answer = ask(bot, "where can I see my order status")
    assert events[0].type == "tool_call" and events[0].data["arguments"]["query"] == "where can I see my order status"
    assert answer.usage["tool_calls"] == 1 and answer.usage["valid_tool_calls"] == 0
    assert answer.citations and answer.citations[0].number == 1


def call(query):
    return f'<tool_call>\n{{"name": "search_knowledge_base", "arguments": {{"query": "{query}"}}}}\n</tool_call>'


def test_model_written_queries_are_used_and_rounds_are_capped(searcher, app_config):
    scripted = Scripted(call("order status meanings"), call("partially shipped"), call("split shipments"))
    bot = Assistant(scripted, searcher, with_chat(app_config, tool_policy="auto", max_tool_rounds=2, grounding=False))
    events, answer = ask(bot, "what does partially shipped mean?")
    queries = [e.data["arguments"]["query"] for e in events if e.type == "tool_call"]
    assert queries == ["order status meanings", "partially shipped"]
    numbers = [p.number for e in events if e.type == "tool_result" for p in e.data]
    assert numbers == list(range(1, len(numbers) + 1)), "passages are numbered across the turn"
    assert scripted.allowed == [True, True, False], "past the cap the model may not call the tool"
    assert answer.refused and answer.usage["valid_tool_calls"] == 2


def test_a_repeated_search_makes_the_model_answer_instead(searcher, app_config):
    scripted = Scripted(call("order status meanings"), call("Order status meanings"), "It shows Partially shipped [1].")
    bot = Assistant(scripted, searcher, with_chat(app_config, grounding=False))
    events, answer = ask(bot, "what does partially shipped mean?")
    assert [e.type for e in events].count("tool_call") == 1
    assert scripted.allowed == [True, True, False]
    assert answer.text == "It shows Partially shipped [1]." and answer.grounded
    assert answer.usage["search_turns"] == 2 and answer.usage["valid_tool_calls"] == 2


def test_the_first_search_also_uses_the_customers_words(searcher, app_config):
    scripted = Scripted(call("warranty length for headphones"), "Refunds take 5 to 10 business days [1].")
    bot = Assistant(scripted, searcher, app_config)
    events, answer = ask(bot, "how long does my refund take to reach my bank after a return")
    assert events[0].data["arguments"]["query"] == "warranty length for headphones"
    sources = [p.source for p in next(e.data for e in events if e.type == "tool_result")]
    plain = [p.source for p in searcher.search("how long does my refund take to reach my bank after a return",
                                               app_config.retrieval.top_k)]
    assert plain[0] in sources, "the best passage for the customer's own words is kept"
    assert len(sources) <= app_config.retrieval.top_k


def test_tool_calls_can_be_ruled_out_for_the_local_model(generator):
    prompt = generator.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Reply with exactly: <tool_call>"}], tokenize=False, add_generation_prompt=True
    )
    text = "".join(generator.stream(prompt, max_new_tokens=16, allow_tool_calls=False))
    assert "<tool_call>" not in text and not text.lstrip().startswith("<tool")


def test_an_unlikely_decline_opening_is_not_taken():
    """Greedy decoding takes the decline's first token only when the model gives it enough probability."""
    import torch

    from assistant.generation import _UnlikelyOpening

    rule = _UnlikelyOpening([2], 0.5, prompt_length=4)
    likeliest_but_unsure = torch.log(torch.tensor([[0.2, 0.2, 0.3, 0.15, 0.15]]))
    assert rule(torch.zeros(1, 4), likeliest_but_unsure.clone()).argmax().item() != 2
    favoured = torch.log(torch.tensor([[0.1, 0.1, 0.6, 0.1, 0.1]]))
    assert rule(torch.zeros(1, 4), favoured.clone()).argmax().item() == 2
    later = rule(torch.zeros(1, 5), likeliest_but_unsure.clone())  # past the first generated position
    assert later.argmax().item() == 2


def test_the_local_model_opens_with_a_word_only_when_sure_enough(generator):
    prompt = generator.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Say hello."}], tokenize=False, add_generation_prompt=True
    )
    free = "".join(generator.stream(prompt, max_new_tokens=8))
    opening = free.split()[0]
    assert "".join(generator.stream(prompt, max_new_tokens=8, unlikely_opening=(opening, 0.0))) == free
    held_back = "".join(generator.stream(prompt, max_new_tokens=8, unlikely_opening=(opening, 1.01)))
    assert held_back.strip() and not held_back.lstrip().startswith(opening)


def test_answers_are_generated_with_the_decline_rule(searcher, app_config):
    options = []

    class ScriptedSeeingOptions(Scripted):  # not the module's Recording, which wraps a real generator
        def stream_messages(self, messages, tools, max_new_tokens, should_stop=None, allow_tool_calls=True, **kw):
            options.append(kw.get("unlikely_opening"))
            return super().stream_messages(messages, tools, max_new_tokens, should_stop, allow_tool_calls)

    cfg = with_chat(app_config, decline_confidence=0.7)
    Assistant(ScriptedSeeingOptions("not a call", "Refunds take 5 days [1]."), searcher, cfg).answer(
        [{"role": "user", "content": "how long do refunds take?"}])
    assert options and all(o == (cfg.chat.no_evidence_message, 0.7) for o in options)
