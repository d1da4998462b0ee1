"""The evaluation command: metric definitions, resuming a killed run, and a real run on the bundled model."""

import dataclasses
import json

import pytest

from assistant import evaluate as ev
from assistant.assistant import Answer, Assistant
from assistant.citations import verify
from assistant.metrics import key_content_present, score_answer, summarize, supports, token_f1
from retrieval.passages import Passage

QUESTION = {"id": "q1", "question": "how long do pods 2 last", "answer": "Up to 8 hours, 30 hours with the case.",
            "support_doc": "products/pods.md", "support_text": "Up to 8 hours"}


def passage(number, source, text):
    return Passage(number, text, source, source, "Title", "Section", f"{source}#{number}", 0.8)


def test_token_f1_and_key_content():
    assert token_f1("Up to 8 hours [1].", "up to 8 hours") == 1.0
    assert token_f1("nothing alike", "up to 8 hours") == 0.0
    assert 0 < token_f1("It lasts 8 hours", "Up to 8 hours") < 1
    gold = "Up to 8 hours, 30 hours with the case."
    assert key_content_present("They last up to 8 hours, or 30 hours with the case [1].", gold, "how long")
    assert not key_content_present("They last up to 6 hours, or 30 with the case.", gold, "how long")
    assert not key_content_present("8 and 30.", "No, you need a receipt for 8 or 30 days.", "q")


def test_support_is_the_document_or_the_support_text():
    assert supports({"source": "products/pods.md", "text": "x"}, QUESTION)
    assert supports({"source": "other.md", "text": "Battery: up to  8 hours of music"}, QUESTION)
    assert not supports({"source": "other.md", "text": "Up to 6 hours"}, QUESTION)


def test_scores_of_a_cited_answer_and_of_a_refusal():
    found = [passage(1, "products/pods.md", "Up to 8 hours (6 hours with ANC); 30 hours with the case."),
             passage(2, "returns/policy.md", "Returns within 30 days.")]
    raw = "Up to 8 hours, 30 hours with the case [1]. Returns take 30 days [2]. See [7]."
    text, citations = verify(raw, found, attribute_uncited=False)
    row = score_answer(QUESTION, Answer(text, citations, found, True, False), raw)
    assert row["recall_hit"] and row["cited"] and row["model_cited"] and row["key_content"]
    assert row["citations"] == [1, 2] and row["supported_citations"] == 1 and row["cites_support"]
    assert "[7]" not in row["answer"]
    unanswerable = {"id": "q2", "question": "do you sell cars", "answer": "", "support_doc": None, "answerable": False}
    refusal = Answer("I don't know that from our help center.", [], [], False, False, refused=True)
    refused_row = score_answer(unanswerable, refusal, refusal.text)
    summary = summarize([row, refused_row])
    assert summary["refusal_accuracy"] == 1.0 and summary["false_refusal_rate"] == 0.0
    assert summary["citation_precision"] == 0.5 and summary["citation_rate"] == 1.0
    assert summary["answerable"] == 1 and summary["unanswerable"] == 1


def test_limit_keeps_a_fixed_mixed_sample():
    questions = [{"id": f"a{i}", "question": f"q{i}", "answer": "x", "support_doc": "d.md"} for i in range(30)]
    questions += [{"id": f"u{i}", "question": f"u{i}", "answerable": False} for i in range(10)]
    picked = ev.select(questions, 8)
    assert len(picked) == 8 and picked == ev.select(questions, 8)
    assert sum(q["id"].startswith("u") for q in picked) == 2


class Killed(Exception):
    pass


class ScriptedModel:
    """Searches, then answers from passage [1]; raises `Killed` on the call numbered `die_at` (a killed run)."""

    def __init__(self, die_at=None):
        self.calls, self.die_at, self.questions = 0, die_at, []

    def count_tokens(self, text):
        return len(text.split())

    def stream_messages(self, messages, tools, max_new_tokens, should_stop=None, allow_tool_calls=True, **options):
        self.calls += 1
        if self.calls == self.die_at:
            raise Killed()
        if messages[-1]["role"] == "user":
            self.questions.append(messages[-1]["content"])
            yield '<tool_call>{"name": "search_knowledge_base", "arguments": {"query": "%s"}}</tool_call>' % (
                messages[-1]["content"])
        else:
            yield "Here is what our help center says [1]."


def test_a_killed_run_resumes_where_it_stopped(tmp_path, searcher, app_config):
    questions = [{"id": f"q{i}", "question": q, "answer": "x", "support_doc": "returns/return-policy.md"}
                 for i, q in enumerate(["how do i return my arc", "refund time", "student discount", "pods battery"])]
    report = tmp_path / "report.json"
    first = ScriptedModel(die_at=5)  # two calls per question: dies while answering the third
    with pytest.raises(Killed):
        ev.evaluate(app_config, questions, ["base"], report, progress=False, searcher=searcher,
                    make_assistant=lambda cfg, s: Assistant(first, s, cfg))
    assert len(ev.rows_path(report).read_text().splitlines()) == 2
    with ev.rows_path(report).open("a") as handle:
        handle.write('{"key": "torn')  # the kill can also tear the line being written

    second = ScriptedModel()
    result = ev.evaluate(app_config, questions, ["base"], report, progress=False, searcher=searcher,
                         make_assistant=lambda cfg, s: Assistant(second, s, cfg))
    assert second.questions == ["student discount", "pods battery"]
    assert [r["id"] for r in result["models"]["base"]["rows"]] == ["q0", "q1", "q2", "q3"]
    assert result["models"]["base"]["summary"]["tool_call_validity"] == 1.0

    changed = dataclasses.replace(app_config, chat=dataclasses.replace(app_config.chat, max_new_tokens=17))
    third = ScriptedModel()
    ev.evaluate(changed, questions, ["base"], report, progress=False, searcher=searcher,
                make_assistant=lambda cfg, s: Assistant(third, s, cfg))
    assert len(third.questions) == 4, "answers made with other settings must not be reused"


def test_command_on_the_bundled_model_writes_json_and_markdown(tmp_path, retrieval_cfg, capsys):
    report = tmp_path / "out" / "eval.json"
    code = ev.main(["--kb", retrieval_cfg.kb_dir, "--index_dir", retrieval_cfg.index_dir, "--limit", "3",
                    "--adapter", "base", "--report", str(report), "--max_new_tokens", "24", "--device", "cpu",
                    "--no_progress"])
    assert code == 0
    result = json.loads(report.read_text())
    rows = result["models"]["base"]["rows"]
    assert len(rows) == 3 and all("error" not in r for r in rows)
    assert all(r["searches"] >= 1 and r["latency_s"] > 0 for r in rows)
    table = report.with_suffix(".md").read_text()
    assert "| citation precision ↑ |" in table and "| base |" in table
    assert "tool-call validity" in capsys.readouterr().out


def test_bad_questions_file_is_a_clear_error(tmp_path, retrieval_cfg, capsys):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "ok"}\nnot json\n')
    code = ev.main(["--kb", retrieval_cfg.kb_dir, "--index_dir", retrieval_cfg.index_dir, "--questions", str(bad),
                    "--report", str(tmp_path / "r.json")])
    assert code == 2 and "q.jsonl:2 is not valid JSON" in capsys.readouterr().err
