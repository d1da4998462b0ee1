"""The closed loop on the bundled model, offline: feedback -> pairs -> DPO -> evaluation -> promotion decision."""

import dataclasses
import json

import pytest

from assistant import registry
from assistant.feedback import FeedbackStore
from training import promote as gate
from training.config import DPORunConfig

TINY = dict(max_steps=1, batch_size=2, logging_steps=1, save_steps=1, max_length=1024, lora_r=4, lora_alpha=8,
            eval_fraction=0, progress=False, device="cpu", load_in_4bit="false", sft_adapter="")
PASSAGES = [{"number": 1, "text": "You can return any product within 30 days of delivery for a full refund.",
             "doc_id": "returns/return-policy.md", "source": "returns/return-policy.md", "title": "Return Policy",
             "section": "Return Policy", "chunk_id": "c1", "score": 0.8}]


def seed(store: FeedbackStore) -> None:
    question = "How long do I have to return my headphones? Mail me at jo@example.com"
    store.add_feedback(question=question, answer="You have 90 days to return them [1].", rating=-1,
                       passages=PASSAGES, better_answer="You have 30 days from delivery to return them [1].")
    store.add_feedback(question="how long is the return window", answer="30 days from delivery [1].", rating=1,
                       passages=PASSAGES)
    store.add_feedback(question="How long is the return window?", answer="Returns are not possible.", rating=-1,
                       passages=PASSAGES)
    store.add_comparison(question="Can I return opened earbuds?", answer_a="Yes, within 30 days [1].",
                         answer_b="No, never.", choice="a", adapter_a="latest", adapter_b="base", passages=PASSAGES)


def test_regressions_beyond_the_tolerance_hold_a_candidate_back():
    current = {"key_content": 0.40, "citation_rate": 0.50, "false_refusal_rate": 0.10, "refusal_accuracy": None}
    assert gate.regressions({"key_content": 0.39, "citation_rate": 0.60, "false_refusal_rate": 0.11}, current, 0.02) == []
    reasons = gate.regressions({"key_content": 0.30, "citation_rate": 0.50, "false_refusal_rate": 0.20}, current, 0.02)
    assert len(reasons) == 2 and reasons[0].startswith("key content present: 0.300 vs 0.400")
    assert "false refusals" in reasons[1]


def test_feedback_trains_an_adapter_that_is_promoted_only_by_the_evaluation(tmp_path, monkeypatch, retrieval_cfg,
                                                                            searcher):
    from training.dpo import run_dpo

    monkeypatch.setenv("DESKMATE_HOME", str(tmp_path / "home"))
    db, adapters = tmp_path / "feedback.sqlite3", tmp_path / "adapters"
    seed(FeedbackStore(db))

    first = run_dpo(DPORunConfig(data=["feedback"], feedback_db=str(db), adapters_dir=str(adapters),
                                 run_name="dpo-1", promotion="evaluate", **TINY))
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["feedback"]["pairs"] == {"better_answer": 1, "rated": 1, "compare": 1}
    exported = (tmp_path / "home" / "preferences" / "feedback-pairs.jsonl").read_text()
    assert "jo@example.com" not in exported and "[email]" in exported
    assert registry.read_registry(adapters)["aliases"]["latest"] == "dpo-1", "the first adapter is served at once"

    second = run_dpo(DPORunConfig(data=["feedback"], feedback_db=str(db), adapters_dir=str(adapters),
                                  run_name="dpo-2", promotion="never", learning_rate=5e-3, **TINY))
    assert registry.read_registry(adapters)["aliases"]["candidate"] == "dpo-2"

    cfg = gate.app_config(retrieval_cfg.kb_dir, str(adapters), ["--max_new_tokens", "24", "--device", "cpu"])
    cfg = dataclasses.replace(cfg, retrieval=retrieval_cfg)
    # A gate that asks the candidate to beat the served adapter by a whole point on every main metric cannot be
    # passed: the seeded run must be held back, with a reason per metric, and `latest` must stay where it is.
    record = gate.promote(second.name, cfg, "data/eval/questions.jsonl", limit=3, tolerance=-1.0, progress=False,
                          searcher=searcher)
    summaries = record["summaries"]
    assert set(summaries) == {"dpo-1", "dpo-2"} and all(s["questions"] == 3 for s in summaries.values())
    measured = [k for k in gate.GATE if summaries["dpo-2"].get(k) is not None and summaries["dpo-1"].get(k) is not None]
    assert record["promoted"] is False and len(record["reasons"]) == len(measured) > 0
    aliases = registry.read_registry(adapters)["aliases"]
    assert aliases["latest"] == "dpo-1" and aliases["candidate"] == "dpo-2"
    saved = json.loads((second / "promotion.json").read_text())
    assert saved["promoted"] is False and saved["reasons"] == record["reasons"]

    forced = gate.promote(second.name, cfg, "data/eval/questions.jsonl", limit=3, tolerance=0.0, force=True,
                          progress=False, searcher=searcher)
    assert forced["promoted"] and registry.read_registry(adapters)["aliases"]["latest"] == "dpo-2"
    assert "candidate" not in registry.read_registry(adapters)["aliases"]


def test_promote_command_names_a_missing_run(tmp_path, capsys):
    assert gate.main(["no-such-run", "--adapters_dir", str(tmp_path)]) == 2
    assert "no adapter 'no-such-run'" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["sometimes"])
def test_bad_promotion_setting_is_a_clear_error(value):
    from training.errors import TrainingError

    with pytest.raises(TrainingError, match="evaluate, always or never"):
        DPORunConfig(promotion=value).check()
