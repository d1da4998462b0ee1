"""The admin Compare view: two adapters answer one question on the same passages; a pick is stored as a pair."""

import json
import sqlite3
from types import SimpleNamespace

import pytest

from assistant.assistant import Assistant
from assistant.config import AppConfig, ChatConfig, ModelConfig, UIConfig
from assistant.feedback import FeedbackStore
from retrieval.config import RetrievalConfig
from retrieval.passages import Passage
from ui.admin_tasks import BASE_MODEL_CHOICE
from ui.compare import Comparer, CompareError, answer_markdown, comparisons_table, notes
from ui.service import ChatService

PASSAGE = Passage(1, "Returns are accepted within 30 days. Write to returns@kestrel.example.", "d1",
                  "returns/policy.md", "Returns", "Time limit", "c1", 0.9)


class StubGenerator:
    """Searches first, then answers citing [1] with its adapter's name; records the passages it was shown."""

    def __init__(self, adapter):
        self.adapter, self.tool_results = adapter, []

    def count_tokens(self, text):
        return len(text.split())

    def stream_messages(self, messages, tools, max_new_tokens, should_stop=None, allow_tool_calls=True, **options):
        results = [m["content"] for m in messages if m["role"] == "tool"]
        if not results:
            yield "<tool_call>{}</tool_call>"
            return
        self.tool_results.append(results)
        yield f"Returns are accepted within 30 days [1]. ({self.adapter or 'base'})"


class StubSearcher:
    def __init__(self, passages):
        self.passages, self.queries = passages, []

    def search(self, query, k=None):
        self.queries.append(query)
        return list(self.passages)


def make_comparer(tmp_path, served="latest", passages=(PASSAGE,)):
    # The compare mechanics with scripted models: the grounding checks have their own tests.
    cfg = AppConfig(RetrievalConfig(), ModelConfig(adapter=served, adapters_dir=str(tmp_path / "adapters")),
                    ChatConfig(grounding=False), UIConfig())
    searcher = StubSearcher(passages)
    service = ChatService(Assistant(StubGenerator(served), searcher, cfg), FeedbackStore(tmp_path / "fb.sqlite3"))
    loaded = []

    def load(cfg):
        loaded.append(cfg.model.adapter)
        return StubGenerator(cfg.model.adapter)

    return Comparer(service, load=load), service, searcher, loaded


def test_both_answers_come_from_the_same_passages(tmp_path):
    comparer, service, searcher, loaded = make_comparer(tmp_path)
    result = comparer.compare("How long do I have to return it?", "latest", BASE_MODEL_CHOICE)
    assert loaded == [""]  # the served adapter is reused, only the base model is loaded
    assert len(searcher.queries) == 1  # B searched A's passages, not the index
    assert result.adapter_a == "latest" and result.adapter_b == ""
    assert result.answer_a.endswith("(latest)") and result.answer_b.endswith("(base)")
    assert result.passages == [PASSAGE.to_dict()] and result.b_searched
    assert [c["number"] for c in result.citations_a] == [c["number"] for c in result.citations_b] == [1]
    served_seen = service.assistant.generator.tool_results[0]
    base_seen = comparer.model("")[0].tool_results[0]
    assert served_seen == base_seen  # the same tool result: the pair shares one prompt
    assert "**[1] Returns** — Time limit" in answer_markdown("A", "latest", result.answer_a, result.citations_a)
    assert notes(result) == []


def test_a_pick_stores_both_answers_adapters_passages_masked(tmp_path):
    comparer, service, _, _ = make_comparer(tmp_path)
    result = comparer.compare("I'm jane@example.com, how long do returns take?", "latest", BASE_MODEL_CHOICE)
    saved = comparer.save(result, "b")
    (row,) = service.store.comparisons()
    assert row["id"] == saved.saved_id and row["choice"] == "b" and row["better_answer"] == ""
    assert (row["adapter_a"], row["adapter_b"]) == ("latest", "")
    assert (row["answer_a"], row["answer_b"]) == (result.answer_a, result.answer_b)
    assert "jane@example.com" not in row["question"] and "[email]" in row["question"]
    assert row["passages"][0]["source"] == "returns/policy.md"
    assert "returns@kestrel.example" not in row["passages"][0]["text"]
    on_disk = sqlite3.connect(tmp_path / "fb.sqlite3").execute("SELECT passages FROM comparisons").fetchone()[0]
    assert json.loads(on_disk)[0]["number"] == 1
    assert comparisons_table(service.store)[0][3:6] == ["latest", BASE_MODEL_CHOICE, "b"]


def test_a_written_answer_is_stored_masked(tmp_path):
    comparer, service, _, _ = make_comparer(tmp_path)
    result = comparer.compare("How long do returns take?", "latest", BASE_MODEL_CHOICE)
    comparer.save(result, "written", "  30 days [1]; call 020 7946 0958 for help.  ")
    (row,) = service.store.comparisons()
    assert row["choice"] == "written" and row["better_answer"].startswith("30 days [1]; call [phone]")


def test_errors_say_what_to_do(tmp_path):
    comparer, service, _, _ = make_comparer(tmp_path)
    with pytest.raises(CompareError, match="Type a question"):
        comparer.compare("   ", "latest", BASE_MODEL_CHOICE)
    with pytest.raises(CompareError, match="Press Compare"):
        comparer.save(None, "a")
    result = comparer.compare("How long do returns take?", "latest", BASE_MODEL_CHOICE)
    with pytest.raises(CompareError, match="Write the better answer"):
        comparer.save(result, "written", "  ")
    saved = comparer.save(result, "a")
    with pytest.raises(CompareError, match="already saved"):
        comparer.save(saved, "b")
    with pytest.raises(CompareError, match="asks for a person"):
        comparer.compare("Let me talk to a human please", "latest", BASE_MODEL_CHOICE)
    assert service.store.count("comparisons") == 1


def test_same_adapter_twice_is_allowed_but_only_a_written_answer_is_saved(tmp_path):
    comparer, service, _, loaded = make_comparer(tmp_path)
    result = comparer.compare("How long do returns take?", "latest", "latest")
    assert loaded == [] and result.answer_a == result.answer_b
    assert any("Both sides use latest" in n for n in notes(result))
    with pytest.raises(CompareError, match="same"):
        comparer.save(result, "a")
    assert comparer.save(result, "written", "Within 30 days [1].").saved_id


def test_at_most_two_extra_models_stay_loaded(tmp_path):
    comparer, _, _, loaded = make_comparer(tmp_path, served="")
    for pair in (("run-1", "run-2"), ("run-1", "run-3"), ("run-2", BASE_MODEL_CHOICE)):
        comparer.compare("How long do returns take?", *pair)
    assert loaded == ["run-1", "run-2", "run-3", "run-2"]  # run-2 was dropped when run-3 came; base is served
    assert len(comparer._models) == 2


def test_handlers_refuse_without_login_and_show_both_answers(tmp_path):
    import gradio as gr

    from ui.admin_compare import CompareHandlers

    comparer, service, _, _ = make_comparer(tmp_path)
    on = CompareHandlers(service, comparer)
    for action in (lambda: on.open(False, None, None), lambda: on.compare(False, "q", "latest", "latest"),
                   lambda: on.pick_a(False, None), lambda: on.save_written(False, None, "x")):
        with pytest.raises(gr.Error, match="Log in first"):
            action()
    with pytest.raises(gr.Error, match="Press Compare"):
        on.pick_b(True, None)
    state, shown_a, shown_b, _, better = on.compare(True, "How long?", "latest", BASE_MODEL_CHOICE,
                                                    progress=lambda *a, **k: None)
    assert "### A: latest" in shown_a and f"### B: {BASE_MODEL_CHOICE}" in shown_b and better == ""
    saved, status, rows = on.pick_a(True, state)
    assert f"#{saved.saved_id}" in status and rows[0][5] == "a"
