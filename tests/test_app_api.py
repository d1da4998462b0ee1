"""The demo path end to end: a live Gradio app answered through gradio_client."""

import socket
from pathlib import Path

import pytest

from ui.app import build_app

KB_DIR = Path(__file__).resolve().parents[1] / "data" / "kb"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client(assistant):
    from gradio_client import Client

    app = build_app(assistant)
    app.queue().launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield Client(app.local_url, verbose=False)
    finally:
        app.close()


def test_chat_endpoint_answers_with_a_citation_of_the_knowledge_base(client):
    result = client.predict("How do I track my order?", "", api_name="/chat")
    assert result["conversation_id"]
    assert result["citations"], f"no citation in {result['answer']!r}"
    for citation in result["citations"]:
        assert (KB_DIR / citation["source"]).is_file()
        assert f"[{citation['number']}]" in result["answer"]
    assert result["grounded"] is True


def test_chat_endpoint_refuses_without_evidence(client):
    result = client.predict("What is the boiling point of mercury in kelvin?", "", api_name="/chat")
    assert result["citations"] == []
    assert result["grounded"] is False and result["handoff"] is True
    assert "don't know" in result["answer"]


def test_chat_endpoint_reports_bad_input(client):
    result = client.predict("   ", "", api_name="/chat")
    assert "empty" in result["error"]
