"""Validation of training data files: every bad line, duplicates, over-length samples."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from training.data import load_samples
from training.errors import DataValidationError
from assistant.dialogue import Dialogue
from training.formatting import tokenizer_for

FIXTURES = Path(__file__).parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tokenizer():
    from assistant.models import resolve_base_model
    from training.modeling import load_tokenizer

    return load_tokenizer(resolve_base_model("bundled:SmolLM2-135M-Instruct"))


def test_every_bad_line_is_reported_with_its_number(tokenizer):
    report = load_samples([str(FIXTURES / "sft_bad.jsonl")], "sft", tokenizer_for("sft", tokenizer, Dialogue()), 1024)
    by_line = {p.line: p.message for p in report.errors}
    assert sorted(by_line) == [2, 3, 4, 6, 7, 8, 9]
    assert "not valid JSON" in by_line[2]
    assert "role 'bot'" in by_line[3]
    assert "last message is from 'user'" in by_line[4]
    assert "unknown tool 'delete_everything'" in by_line[6]
    assert "follows no assistant tool call" in by_line[8]
    assert "over max_length 1024" in by_line[9]
    assert [(w.line, "duplicate of" in w.message) for w in report.warnings] == [(5, True)]
    assert [s.line for s in report.samples] == [1, 10]


def test_errors_stop_training_unless_skipped(tokenizer):
    report = load_samples([str(FIXTURES / "sft_bad.jsonl")], "sft", None, None)
    with pytest.raises(DataValidationError) as info:
        report.raise_on_errors(skip_invalid=False)
    message = str(info.value)
    assert "sft_bad.jsonl:2:" in message and "sft_bad.jsonl:8:" in message and "--skip_invalid" in message
    report.raise_on_errors(skip_invalid=True)  # the good lines are enough to train on


def test_preference_pairs_are_checked(tmp_path):
    good = json.loads((FIXTURES / "dpo_tiny.jsonl").read_text().splitlines()[0])
    same = {**good, "rejected": good["chosen"]}
    no_answer = {**good, "chosen": [{"role": "user", "content": "hi"}]}
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (good, same, no_answer, {"prompt": []})) + "\n")
    report = load_samples([str(path)], "dpo")
    messages = {}
    for problem in report.errors:
        messages.setdefault(problem.line, []).append(problem.message)
    assert messages[2] == ["chosen and rejected are identical"]
    assert any("put them in 'prompt'" in m for m in messages[3])
    assert "'prompt' must be a non-empty list of messages" in messages[4]
    assert "'rejected' must be a non-empty list of messages" in messages[4]
    assert len(report.samples) == 1


def test_validate_command_lists_problems_and_fails():
    result = subprocess.run(
        [sys.executable, "-m", "training.validate", str(FIXTURES / "sft_bad.jsonl"), "--max_length", "0"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 1
    # lengths are not checked with --max_length 0, so the over-long line 9 counts as a sample
    assert "3 sft samples, 6 errors, 1 warnings" in result.stdout
    assert "sft_bad.jsonl:3:" in result.stdout


def test_validate_checks_each_file_as_what_it_holds(tmp_path):
    """SFT dialogues and DPO pairs given together are each checked as their own kind."""
    sft, dpo = tmp_path / "sft", tmp_path / "dpo"
    sft.mkdir(), dpo.mkdir()
    dialogue = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    pair = {"prompt": [{"role": "user", "content": "Hi"}], "chosen": [{"role": "assistant", "content": "Hello!"}],
            "rejected": [{"role": "assistant", "content": "Go away."}]}
    (sft / "a.jsonl").write_text(json.dumps(dialogue) + "\n", encoding="utf-8")
    (dpo / "b.jsonl").write_text(json.dumps(pair) + "\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "training.validate", str(sft), str(dpo)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 sft samples, 0 errors" in result.stdout and "1 dpo samples, 0 errors" in result.stdout
    (dpo / "c.jsonl").write_text(json.dumps({"prompt": [], "chosen": [], "rejected": []}) + "\n", encoding="utf-8")
    failed = subprocess.run([sys.executable, "-m", "training.validate", str(sft), str(dpo)],
                            cwd=ROOT, capture_output=True, text=True)
    assert failed.returncode == 1 and "c.jsonl:1:" in failed.stdout
