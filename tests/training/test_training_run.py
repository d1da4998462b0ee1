"""Tiny real runs on the bundled model: SFT then DPO into the registry, and kill-and-resume."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import registry
from training.config import DPORunConfig, SFTRunConfig
from training.errors import DataValidationError

FIXTURES = Path(__file__).parents[1] / "fixtures"
ROOT = Path(__file__).resolve().parents[2]
TINY = dict(max_steps=2, batch_size=2, logging_steps=1, save_steps=1, max_length=256, lora_r=4, lora_alpha=8,
            max_eval_examples=1, progress=False, device="cpu", load_in_4bit="false", promotion="always")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An SFT run and a DPO run on top of it, in a fresh adapters folder."""
    from training.dpo import run_dpo
    from training.sft import run_sft

    adapters = tmp_path_factory.mktemp("adapters")
    sft = run_sft(SFTRunConfig(data=[str(FIXTURES / "sft_short.jsonl")], adapters_dir=str(adapters),
                               run_name="sft-tiny", **TINY))
    dpo = run_dpo(DPORunConfig(data=[str(FIXTURES / "dpo_short.jsonl")], adapters_dir=str(adapters),
                               run_name="dpo-tiny", **{**TINY, "max_steps": 1}))
    return adapters, sft, dpo


def test_runs_leave_adapter_tokenizer_manifest_and_plot(trained):
    _, sft, dpo = trained
    for run in (sft, dpo):
        assert (run / "adapter_config.json").exists() and (run / "adapter_model.safetensors").exists()
        assert (run / "chat_template.jinja").exists() or "chat_template" in (run / "tokenizer_config.json").read_text()
        assert (run / "loss.png").read_bytes()[:4] == b"\x89PNG"
        assert not (run / "checkpoints").exists()
    manifest = json.loads((sft / "manifest.json").read_text())
    assert manifest["base_model"] == "bundled:SmolLM2-135M-Instruct"
    [(name, digest)] = manifest["data"].items()
    assert name.endswith("sft_short.jsonl") and len(digest) == 64
    assert manifest["hyperparameters"]["learning_rate"] == SFTRunConfig.learning_rate
    assert manifest["train_metrics"]["train_loss"] > 0 and manifest["eval_metrics"]["eval_loss"] > 0
    assert manifest["samples"] == {"train": 5, "eval": 1, "bad_lines_skipped": 0, "duplicates_skipped": 0}
    assert manifest["code_revision"] and manifest["started"] and manifest["duration_s"] > 0


def test_registry_names_both_runs_and_latest_is_the_dpo_adapter(trained):
    adapters, sft, dpo = trained
    data = registry.read_registry(adapters)
    assert data["aliases"] == {"latest": "dpo-tiny", "latest-sft": "sft-tiny", "latest-dpo": "dpo-tiny"}
    assert data["runs"]["sft-tiny"]["stage"] == "sft"
    assert registry.resolve_adapter("latest", adapters) == str(dpo)
    # the DPO adapter stacks SFT and DPO (rank 4 + 4) and records where it started
    assert json.loads((dpo / "adapter_config.json").read_text())["r"] == 8
    assert json.loads((dpo / "manifest.json").read_text())["sft_adapter"] == str(sft)


def test_the_assistant_loads_the_latest_adapter_by_name(trained):
    from assistant.config import ModelConfig
    from assistant.models import load_chat_model

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from assistant.models import resolve_base_model

    adapters, _, dpo = trained
    model, tokenizer, adapter = load_chat_model(ModelConfig(adapter="latest", adapters_dir=str(adapters), device="cpu"))
    assert adapter == str(dpo)
    ids = tokenizer("Where is my order?", return_tensors="pt").input_ids
    base = AutoModelForCausalLM.from_pretrained(resolve_base_model(ModelConfig().base_model))
    with torch.no_grad():
        served, plain = model(input_ids=ids).logits, base(input_ids=ids).logits
        unmerged = PeftModel.from_pretrained(base, str(dpo))(input_ids=ids).logits
    assert torch.allclose(served, unmerged, atol=1e-4), "the merged adapter must serve what the adapter computes"
    assert not torch.allclose(served, plain, atol=1e-6), "the adapter changed nothing"


def test_bad_data_stops_before_the_model_loads(tmp_path, monkeypatch):
    from training import sft

    monkeypatch.setattr(sft, "load_base", lambda *a: pytest.fail("the model must not load on bad data"))
    with pytest.raises(DataValidationError, match=r"sft_bad.jsonl:2:.*\n(.*\n)*.*sft_bad.jsonl:8:"):
        sft.run_sft(SFTRunConfig(data=[str(FIXTURES / "sft_bad.jsonl")], adapters_dir=str(tmp_path), **TINY))


def test_killed_run_resumes_from_its_checkpoint(tmp_path):
    from training.sft import run_sft

    command = [sys.executable, "-m", "training.sft", "--config", str(FIXTURES / "resume_sft.yaml"),
               "--adapters_dir", str(tmp_path), "--run_name", "sft-killed"]
    checkpoint = tmp_path / "sft-killed" / "checkpoints" / "checkpoint-1" / "trainer_state.json"
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 600
        while not checkpoint.exists() and process.poll() is None and time.time() < deadline:
            time.sleep(0.5)
        assert checkpoint.exists(), "the run wrote no checkpoint"
    finally:
        process.kill()
        process.wait()
    assert not (tmp_path / "sft-killed" / "manifest.json").exists()

    run = run_sft(SFTRunConfig(adapters_dir=str(tmp_path), resume=True, progress=False))
    manifest = json.loads((run / "manifest.json").read_text())
    assert run.name == "sft-killed" and manifest["resumed_from"].startswith("checkpoint-")
    steps = [e["step"] for e in json.loads((run / "trainer_state.json").read_text())["log_history"] if "loss" in e]
    assert steps[0] == 1 and steps[-1] == 4  # the log carries on from the checkpoint to the last step


@pytest.mark.slow
def test_qlora_4bit_run_and_merge(tmp_path):
    """The 4-bit NF4 path (bitsandbytes runs it on the CPU too) and the merged export."""
    from training.sft import run_sft

    run = run_sft(SFTRunConfig(data=[str(FIXTURES / "sft_short.jsonl")], adapters_dir=str(tmp_path),
                               **{**TINY, "load_in_4bit": "true", "merge": True}))
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["load_in_4bit"] is True
    config = json.loads((run / "merged" / "config.json").read_text())
    assert "quantization_config" not in config and list((run / "merged").glob("*.safetensors"))
