"""Generation through any OpenAI-compatible server (vLLM, `transformers serve`, llama.cpp, ...).

This is how a deployment scales out: the server holds the base model (and the LoRA
adapter, e.g. vLLM's `--lora-modules`), the assistant keeps retrieval and citations.
Tool calls and results travel as Hermes-style text, the format the adapter is trained on,
so the same conversation works whether or not the server parses tool calls itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from .chat_format import format_tool_call, to_hermes
from .config import ModelConfig
from .errors import BackendUnavailableError


class OpenAIGenerator:
    backend = "openai"

    def __init__(self, client, model: str, adapter: str | None = None):
        self.client, self.name, self.adapter = client, model, adapter

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> "OpenAIGenerator":
        from openai import OpenAI

        if not cfg.openai_base_url:
            raise BackendUnavailableError(
                "backend is 'openai' but openai_base_url is empty; set it to your server, e.g. http://127.0.0.1:8000/v1."
            )
        client = OpenAI(
            base_url=cfg.openai_base_url,
            api_key=os.environ.get(cfg.openai_api_key_env) or "not-needed",
            timeout=cfg.request_timeout,
            max_retries=2,
        )
        return cls(client, cfg.openai_model or cfg.adapter or cfg.base_model, cfg.adapter or None)

    def count_tokens(self, text: str) -> int:
        """An estimate (no tokenizer here): about four characters per token."""
        return max(1, len(text) // 4) if text else 0

    def stream_messages(self, messages: list[dict], tools: list[dict] | None, max_new_tokens: int,
                        should_stop: Callable[[], bool] | None = None, allow_tool_calls: bool = True,
                        unlikely_opening: tuple[str, float] | None = None) -> Iterator[str]:
        """Stream the server's reply; `allow_tool_calls` is advisory here (a call past the cap is dropped) and
        `unlikely_opening` is not applied (the server decodes as it is configured)."""
        from openai import OpenAIError

        try:
            stream = self.client.chat.completions.create(
                model=self.name,
                messages=to_hermes(messages, tools),
                max_tokens=max_new_tokens,
                temperature=0.0,
                stream=True,
            )
            calls: dict[int, dict] = {}  # servers that parse tool calls send them in fragments
            for chunk in stream:
                delta = chunk.choices[0].delta if chunk.choices else None
                if delta is None:
                    continue
                for fragment in delta.tool_calls or []:
                    call = calls.setdefault(fragment.index, {"name": "", "arguments": ""})
                    if fragment.function:
                        call["name"] += fragment.function.name or ""
                        call["arguments"] += fragment.function.arguments or ""
                if delta.content:
                    yield delta.content
                if should_stop is not None and should_stop():
                    stream.close()
                    return
            for call in calls.values():
                yield format_tool_call(call)
        except OpenAIError as exc:
            raise BackendUnavailableError(
                f"The model server at {self.client.base_url} failed: {exc}. Check that it is running and serves "
                f"the model {self.name!r}."
            ) from exc
