"""The chat loop: search the knowledge base, answer from the passages, verify citations.

    assistant = Assistant.from_config(cfg)
    for event in assistant.stream([{"role": "user", "content": "How do I return my Arc?"}]):
        ...
    answer = assistant.answer(messages)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from retrieval.search import Passage, Searcher
from retrieval.tool import TOOL_NAME, make_search_tool, tool_schema

from .chat_format import render_conversation, tool_call_message
from .citations import Citation, verify
from .config import AppConfig, ChatConfig
from .errors import InvalidMessageError
from .generation import LocalGenerator
from .prompts import system_prompt

ROLES = {"system", "user", "assistant", "tool"}


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    passages: list[Passage]
    grounded: bool
    handoff: bool
    usage: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Event:
    """One step of a streamed answer: `tool_call`, `tool_result`, `delta` or `final`."""

    type: str
    data: Any


def validate(messages: list[dict], cfg: ChatConfig) -> str:
    """Return the latest customer message, or raise `InvalidMessageError` saying what is wrong."""
    if not messages:
        raise InvalidMessageError("The conversation is empty; send a question.")
    for i, message in enumerate(messages):
        if message.get("role") not in ROLES:
            raise InvalidMessageError(f"Message {i} has role {message.get('role')!r}; use one of {sorted(ROLES)}.")
    if messages[-1]["role"] != "user":
        raise InvalidMessageError("The last message must come from the user.")
    question = (messages[-1].get("content") or "").strip()
    if not question:
        raise InvalidMessageError("The message is empty; type a question.")
    if len(question) > cfg.max_message_chars:
        raise InvalidMessageError(
            f"The message is {len(question)} characters long; the limit is {cfg.max_message_chars}. Please shorten it."
        )
    return question


class Assistant:
    def __init__(self, generator: LocalGenerator, searcher: Searcher, cfg: AppConfig):
        self.generator, self.searcher, self.cfg = generator, searcher, cfg
        self.tool = make_search_tool(searcher)
        self.tools = [tool_schema(self.tool)]

    @classmethod
    def from_config(cls, cfg: AppConfig) -> "Assistant":
        return cls(LocalGenerator.from_config(cfg.model), Searcher(cfg.retrieval), cfg)

    def stream(self, messages: list[dict]) -> Iterator[Event]:
        chat = self.cfg.chat
        question = validate(messages, chat)
        started = time.perf_counter()
        history = [m for m in messages if m["role"] != "system"]
        call = tool_call_message(TOOL_NAME, {"query": question, "k": self.cfg.retrieval.top_k})
        yield Event("tool_call", call["tool_calls"][0]["function"])
        result = self.tool.invoke({"type": "tool_call", "id": "call_0", "name": TOOL_NAME, "args": call["tool_calls"][0]["function"]["arguments"]})
        passages: list[Passage] = result.artifact
        yield Event("tool_result", passages)
        searched = time.perf_counter()
        if not passages:
            answer = Answer(chat.no_evidence_message, [], [], grounded=False, handoff=True,
                            timings={"search_s": searched - started, "total_s": searched - started})
            yield Event("delta", answer.text)
            yield Event("final", answer)
            return
        conversation = [
            {"role": "system", "content": system_prompt(chat)},
            *history,
            call,
            {"role": "tool", "content": result.content, "tool_call_id": "call_0"},
        ]
        prompt = render_conversation(self.generator.tokenizer, conversation, self.tools, add_generation_prompt=True)
        pieces, first_token = [], None
        for piece in self.generator.stream(prompt, chat.max_new_tokens):
            first_token = first_token or time.perf_counter()
            pieces.append(piece)
            yield Event("delta", piece)
        done = time.perf_counter()
        text, citations = verify("".join(pieces), passages, chat.attribute_uncited)
        usage = {
            "prompt_tokens": self.generator.count_tokens(prompt),
            "completion_tokens": self.generator.count_tokens("".join(pieces)),
        }
        timings = {
            "search_s": searched - started,
            "first_token_s": (first_token or done) - started,
            "total_s": done - started,
        }
        yield Event("final", Answer(text, citations, passages, bool(citations), False, usage, timings))

    def answer(self, messages: list[dict]) -> Answer:
        final = None
        for event in self.stream(messages):
            if event.type == "final":
                final = event.data
        return final
