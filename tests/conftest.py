"""Shared fixtures: one index of the demo knowledge base and one loaded model per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach a model hub or phone home.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
KB_DIR = ROOT / "data" / "kb"


@pytest.fixture(scope="session")
def retrieval_cfg(tmp_path_factory):
    """A RetrievalConfig whose index holds the demo knowledge base (built once)."""
    from retrieval.config import RetrievalConfig
    from retrieval.index import build_index

    cfg = RetrievalConfig(kb_dir=str(KB_DIR), index_dir=str(tmp_path_factory.mktemp("index")))
    build_index(cfg, progress=False)
    return cfg


@pytest.fixture(scope="session")
def searcher(retrieval_cfg):
    from retrieval.search import Searcher

    return Searcher(retrieval_cfg)


@pytest.fixture(scope="session")
def generator():
    """The bundled chat model, loaded once."""
    from assistant.config import ModelConfig
    from assistant.generation import LocalGenerator

    return LocalGenerator.from_config(ModelConfig(device="cpu"))


@pytest.fixture(scope="session")
def app_config(retrieval_cfg):
    from assistant.config import AppConfig, ChatConfig, ModelConfig, UIConfig

    return AppConfig(retrieval=retrieval_cfg, model=ModelConfig(device="cpu"), chat=ChatConfig(), ui=UIConfig())


@pytest.fixture(scope="session")
def assistant(generator, searcher, app_config):
    from assistant.assistant import Assistant

    return Assistant(generator, searcher, app_config)
