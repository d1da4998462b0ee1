"""Training settings that depend on the machine, and what a training machine must have installed."""

import subprocess
import sys

import pytest

from training.config import SFTRunConfig
from training.errors import TrainingError
from training.modeling import score_labelled_positions_on_cpu, use_4bit, use_bf16, use_checkpointing

SEARCH_STACK = ("chromadb", "langchain_text_splitters", "langchain_chroma", "rank_bm25", "sentence_transformers",
                "gradio")


def test_gpu_defaults_are_qlora_with_activation_recomputation():
    gpu, cpu = SFTRunConfig(device="cuda"), SFTRunConfig(device="cpu")
    assert use_checkpointing(gpu) and use_4bit(gpu)
    assert not use_checkpointing(cpu) and not use_4bit(cpu)
    assert not use_checkpointing(SFTRunConfig(device="cuda", gradient_checkpointing="false"))
    assert use_checkpointing(SFTRunConfig(device="cpu", gradient_checkpointing="true"))


def test_a_bad_checkpointing_value_says_what_to_use():
    with pytest.raises(TrainingError, match="auto, true or false"):
        SFTRunConfig(gradient_checkpointing="yes").check()
    with pytest.raises(TrainingError, match="auto, true or false"):
        SFTRunConfig(bf16="maybe").check()


def test_bf16_follows_the_cpu_unless_set():
    from retrieval.embeddings import native_bf16

    assert use_bf16(SFTRunConfig(device="cpu")) == native_bf16()
    assert use_bf16(SFTRunConfig(device="cpu", bf16="true"))
    assert not use_bf16(SFTRunConfig(device="cpu", bf16="false"))


def tiny_fused_model():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    model = LlamaForCausalLM(config)
    add_fused_lm_head(model)
    return model


def fused_loss_and_grad(model, ids, labels):
    model.zero_grad()
    loss = model(input_ids=ids, labels=labels, fused_lm_head=True).loss
    loss.backward()
    return loss.detach(), model.model.layers[-1].mlp.down_proj.weight.grad.clone()


def test_cpu_training_scores_only_labelled_positions(monkeypatch):
    """The patched choice hands trl's LM-head tiles only the labelled positions and keeps loss and gradient."""
    import torch
    from trl.trainer import utils as trl_utils

    model = tiny_fused_model()
    ids = torch.randint(0, 300, (1, 40))
    labels = ids.clone()
    labels[:, :30] = -100  # a prompt of 30 tokens, a reply of 10
    monkeypatch.setattr(trl_utils, "_use_triton", trl_utils._use_triton)  # undone after the test
    every_loss, every_grad = fused_loss_and_grad(model, ids, labels)

    rows = []
    apply = trl_utils._ChunkedLogProbFunction.apply
    monkeypatch.setattr(trl_utils._ChunkedLogProbFunction, "apply",
                        lambda hidden, *args: rows.append(len(hidden)) or apply(hidden, *args))
    score_labelled_positions_on_cpu()
    score_labelled_positions_on_cpu()  # a second call changes nothing
    labelled_loss, labelled_grad = fused_loss_and_grad(model, ids, labels)

    assert rows == [10]  # the 10 positions that predict a reply token, not all 39
    assert torch.allclose(labelled_loss, every_loss, atol=1e-6)
    assert torch.allclose(labelled_grad, every_grad, atol=1e-6)


def test_training_needs_no_search_stack():
    """A GPU training box needs the chat format and the tool schema, not Chroma, the splitters or BM25."""
    code = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {SEARCH_STACK!r}:
            raise ImportError("not installed here: " + name)
sys.meta_path.insert(0, Block())
import training.sft, training.dpo, training.validate
from training.config import SFTRunConfig
print(SFTRunConfig().served_dialogue().tools()[0]["function"]["name"])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "search_knowledge_base"
