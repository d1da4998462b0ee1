"""The OpenAI-compatible endpoint and /chat_stream on a live app, driven by the `openai` package and gradio_client."""

import dataclasses

import pytest

from assistant.config import UIConfig
from ui.app import build_app, serve

KEY = "test-key-123"


@pytest.fixture(scope="module")
def live_app(generator, searcher, app_config, tmp_path_factory):
    from assistant.assistant import Assistant
    from assistant.feedback import FeedbackStore

    cfg = dataclasses.replace(app_config, chat=dataclasses.replace(app_config.chat, max_new_tokens=32))
    store = FeedbackStore(tmp_path_factory.mktemp("feedback") / "feedback.sqlite3")
    app = build_app(Assistant(generator, searcher, cfg), feedback=store, settings=UIConfig(concurrency=2, api_key=KEY))
    serve(app, server_name="127.0.0.1", quiet=True)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture(scope="module")
def openai_client(live_app):
    from openai import OpenAI

    return OpenAI(base_url=live_app.local_url.rstrip("/") + "/v1", api_key=KEY, max_retries=0)


def test_a_completion_carries_the_answer_and_its_citations(openai_client):
    completion = openai_client.chat.completions.create(
        model="deskmate", messages=[{"role": "system", "content": "Talk like a pirate."},
                                    {"role": "user", "content": "How long does a refund take to reach my card?"}])
    text = completion.choices[0].message.content
    extra = completion.model_extra["deskmate"]
    assert extra["conversation_id"] and extra["answer_id"] and extra["grounded"] is True
    assert extra["citations"] and all(f"[{c['number']}]" in text for c in extra["citations"])
    assert completion.choices[0].finish_reason == "stop"


def test_streamed_chunks_add_up_to_the_answer_and_end_with_the_extra_fields(openai_client):
    chunks = list(openai_client.chat.completions.create(
        model="deskmate", stream=True, messages=[{"role": "user", "content": "Who are you?"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "Kess" in text and "Kestrel Audio" in text
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and last.model_extra["deskmate"]["small_talk"] is True


def test_wrong_key_and_bad_requests_get_openai_style_errors(live_app, openai_client):
    import openai

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=str(openai_client.base_url), api_key="wrong", max_retries=0).chat.completions.create(
            model="deskmate", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="limit is"):
        openai_client.chat.completions.create(model="deskmate", messages=[{"role": "user", "content": "x" * 5000}])
    with pytest.raises(openai.BadRequestError, match="last message"):
        openai_client.chat.completions.create(model="deskmate", messages=[{"role": "assistant", "content": "hi"}])


def test_chat_stream_sends_deltas_then_the_chat_json(live_app):
    from gradio_client import Client

    job = Client(live_app.local_url, verbose=False).submit("Can I return opened headphones?", "",
                                                            api_name="/chat_stream")
    outputs = list(job)
    final = job.result()
    assert final["answer"] and final["answer_id"] and final["citations"]
    deltas = [o["delta"] for o in outputs if "delta" in o]
    assert "".join(deltas) == final["answer"]
