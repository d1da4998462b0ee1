"""The `openai` backend against a real OpenAI-compatible server (`transformers serve`) on loopback."""

import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant.assistant import Assistant
from assistant.config import ModelConfig
from assistant.errors import BackendUnavailableError
from assistant.metrics import sentence_support
from assistant.models import resolve_base_model
from assistant.openai_backend import OpenAIGenerator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cli = Path(sys.executable).with_name("transformers")
    if not cli.exists():
        cli = shutil.which("transformers")
    model = resolve_base_model(ModelConfig().base_model)
    port = free_port()
    log = open(tmp_path_factory.mktemp("serve") / "serve.log", "w")
    proc = subprocess.Popen(
        [str(cli), "serve", model, "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            assert proc.poll() is None, f"transformers serve exited; see {log.name}"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        else:
            pytest.fail("transformers serve did not come up in 240 s")
        yield {"base_url": f"{url}/v1", "model": model}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_assistant_answers_through_the_server(server, searcher, app_config):
    model_cfg = dataclasses.replace(app_config.model, backend="openai", openai_base_url=server["base_url"],
                                    openai_model=server["model"])
    cfg = dataclasses.replace(app_config, model=model_cfg, chat=dataclasses.replace(app_config.chat, max_new_tokens=32))
    bot = Assistant(OpenAIGenerator.from_config(model_cfg), searcher, cfg)
    events = list(bot.stream([{"role": "user", "content": "How long is the return window in the UK?"}]))
    types = [e.type for e in events]
    assert types[0] == "tool_call" and "tool_result" in types and types[-1] == "final"
    answer = events[-1].data
    assert answer.passages and answer.text.strip()
    assert answer.usage["completion_tokens"] > 0
    assert "".join(e.data for e in events if e.type == "delta").strip()
    # The same support check as the local backend: every shown sentence is in the document it cites.
    documents = {}
    for chunk in searcher.chunks():
        documents[chunk["source"]] = documents.get(chunk["source"], "") + "\n" + chunk["text"]
    supported, shown = sentence_support(answer.text, [p.to_dict() for p in answer.passages], documents)
    assert answer.citations and shown and supported == shown, answer.text


def test_unreachable_server_is_a_clear_error(app_config):
    cfg = ModelConfig(backend="openai", openai_base_url=f"http://127.0.0.1:{free_port()}/v1", request_timeout=2)
    generator = OpenAIGenerator.from_config(cfg)
    with pytest.raises(BackendUnavailableError, match="Check that it is running"):
        list(generator.stream_messages([{"role": "user", "content": "hi"}], None, 8))


def test_missing_server_url_says_what_to_set():
    with pytest.raises(BackendUnavailableError, match="openai_base_url"):
        OpenAIGenerator.from_config(ModelConfig(backend="openai"))
