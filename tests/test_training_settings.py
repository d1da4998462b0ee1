"""Training settings that depend on the machine, and what a training machine must have installed."""

import subprocess
import sys

import pytest

from training.config import SFTRunConfig
from training.errors import TrainingError
from training.modeling import use_4bit, use_checkpointing

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
from training.formatting import default_tools
print(default_tools()[0]["function"]["name"])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "search_knowledge_base"
