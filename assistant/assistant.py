"""The chat loop: search the knowledge base, answer from the passages, verify citations.

    assistant = Assistant.from_config(cfg)
    for event in assistant.stream([{"role": "user", "content": "How do I return my Arc?"}]):
        ...                      # tool_call, tool_result, delta, final
    answer = assistant.answer(messages)
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from retrieval.hybrid import reciprocal_rank_fusion
from retrieval.passages import Passage
from retrieval.search import Searcher
from retrieval.tool import TOOL_NAME

from .chat_format import parse_tool_calls
from .citations import Citation, verify
from .config import PROMPT_ROOM, AppConfig
from .conversation import search_queries, standalone_question, trim_history, validate
from .dialogue import Dialogue
from .grounding import Grounding, GroundingSettings
from .safety import redact_passages
from .small_talk import small_talk_reply

log = logging.getLogger(__name__)
REFUSAL_RE = re.compile(r"\b(don't|do not|can't|cannot) (know|find|answer|see)\b", re.IGNORECASE)


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    passages: list[Passage]
    grounded: bool
    handoff: bool
    refused: bool = False
    usage: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    draft: str = ""  # the model's own text, before the grounding checks
    answerability: float | None = None  # the gate's probability that the passages answer the question
    small_talk: bool = False  # a greeting, thanks or question about the assistant, answered from its identity

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Event:
    """One step of a streamed answer: `tool_call`, `tool_result`, `delta` or `final`."""

    type: str
    data: Any


def is_tool_call(text: str) -> bool:
    return text.lstrip().startswith("<tool_call")


def load_generator(cfg: AppConfig):
    if cfg.model.backend == "openai":
        from .openai_backend import OpenAIGenerator

        return OpenAIGenerator.from_config(cfg.model)
    from .generation import LocalGenerator

    return LocalGenerator.from_config(cfg.model)


def warn_if_trained_otherwise(adapter: str, cfg: AppConfig, dialogue: Dialogue) -> None:
    """Log a warning when the adapter's run was trained on another system prompt or `top_k` than is served
    (it then answers a prompt it never saw: retrain it with these settings, `python -m training.sft`)."""
    import json
    from pathlib import Path

    from .registry import resolve_adapter

    try:
        folder = resolve_adapter(adapter, cfg.model.adapters_dir)
        trained = json.loads(Path(folder, "manifest.json").read_text()).get("dialogue") if folder else None
    except (OSError, ValueError):
        return
    served = dialogue.settings()
    changed = [name for name in served if trained and name in trained and trained[name] != served[name]]
    if changed:
        log.warning("The adapter %r was trained with another %s than is served now; its answers may suffer. "
                    "Retrain it with the served settings (python -m training.sft, then training.dpo).",
                    adapter, " and ".join(changed))


def grounding_settings(chat) -> GroundingSettings:
    return GroundingSettings(gate=chat.grounding, verify=chat.grounding, extractive_sentences=chat.extractive_sentences,
                             gate_sample_false_refusals=chat.gate_sample_false_refusals, gate_examples=chat.gate_examples)


class Assistant:
    def __init__(self, generator, searcher: Searcher, cfg: AppConfig, grounding: Grounding | None = None):
        self.generator, self.searcher, self.cfg = generator, searcher, cfg
        self.dialogue = Dialogue.from_config(cfg)
        self._grounding = grounding

    @property
    def grounding(self) -> Grounding:
        """The grounding checks for the served knowledge base, built from it on first use (then cached on disk)."""
        if self._grounding is None:
            self._grounding = Grounding.for_searcher(self.searcher, grounding_settings(self.cfg.chat))
        return self._grounding

    @classmethod
    def from_config(cls, cfg: AppConfig) -> "Assistant":
        assistant = cls(load_generator(cfg), Searcher(cfg.retrieval), cfg)
        if cfg.model.adapter:
            warn_if_trained_otherwise(cfg.model.adapter, cfg, assistant.dialogue)
        return assistant

    @property
    def adapter_name(self) -> str:
        return self.cfg.model.adapter

    def use_adapter(self, name: str) -> None:
        """Serve another adapter (a registry name or folder; empty = the base model) without restarting."""
        model_cfg = dataclasses.replace(self.cfg.model, adapter=name)
        self.generator = load_generator(dataclasses.replace(self.cfg, model=model_cfg))
        self.cfg = dataclasses.replace(self.cfg, model=model_cfg)
        warn_if_trained_otherwise(name, self.cfg, self.dialogue)

    def reload_index(self) -> None:
        """Pick up a re-indexed collection (after the admin page or `retrieval.index` ran); the grounding
        checks are rebuilt for it on next use when its chunks changed."""
        self.searcher.refresh()
        self._grounding = None

    def _search(self, queries: list[str], first_number: int, k: int) -> list[Passage]:
        """Search with each query for `k` passages, fuse the rankings (reciprocal rank, the search's `rrf_k`),
        keep as many as one search gives (`k`, or more when a searcher returns more), number them from
        `first_number`."""
        results = [self.searcher.search(query, k) for query in dict.fromkeys(queries)]
        by_id = {p.chunk_id: p for found in results for p in found}
        keep = max([k, *map(len, results)])
        order = reciprocal_rank_fusion([[p.chunk_id for p in found] for found in results], self.cfg.retrieval.rrf_k)[:keep]
        renumbered = [dataclasses.replace(by_id[c], number=first_number + i) for i, c in enumerate(order)]
        return redact_passages(renumbered)

    def stream(self, messages: list[dict]) -> Iterator[Event]:
        chat = self.cfg.chat
        question = validate(messages, chat)
        started = time.perf_counter()
        if self.dialogue.is_handoff_request(question):
            yield from self._finish(Answer(chat.handoff_message, [], [], False, handoff=True), started, True)
            return
        reply = small_talk_reply(question, chat)
        if reply:  # greetings, thanks and questions about the assistant: from the configured identity, no search
            yield from self._finish(Answer(reply, [], [], False, False, small_talk=True), started, True)
            return
        budget = chat.max_prompt_tokens - chat.max_new_tokens - PROMPT_ROOM
        history = trim_history([m for m in messages if m["role"] != "system"], budget, self.generator.count_tokens)
        conversation = self.dialogue.with_system(history)
        asked = standalone_question(history, question)  # a follow-up with the message it follows
        first_queries = search_queries(history, question)
        said_before = "\n".join(m.get("content") or "" for m in history if m["role"] == "assistant")
        passages: list[Passage] = []
        usage = {"search_turns": 0, "tool_calls": 0, "valid_tool_calls": 0, "searches": 0, "completion_tokens": 0}
        timings = {"search_s": 0.0}
        searched: set[str] = set()
        for round_ in range(chat.max_tool_rounds + 1):
            can_search = round_ < chat.max_tool_rounds
            must_search = can_search and round_ == 0 and chat.tool_policy == "required"
            text = yield from self._generate(conversation, not must_search, usage, timings, started, can_search)
            if not (can_search and (must_search or is_tool_call(text))):
                break
            query, k = self._query(text, asked, usage)
            if query.casefold() in searched:  # the same search again finds nothing new: answer now
                text = yield from self._generate(conversation, True, usage, timings, started, False)
                break
            searched.add(query.casefold())
            call = self.dialogue.search_call(query, f"call_{round_}")
            yield Event("tool_call", call["tool_calls"][0]["function"])
            started_search = time.perf_counter()
            # The first search of a question also uses the customer's own words (a follow-up with the messages and
            # the answer it follows): a small model's query can drop what matters; fusing the rankings keeps what any finds.
            found = self._search([*first_queries, query] if round_ == 0 else [query], len(passages) + 1, k)
            timings["search_s"] += time.perf_counter() - started_search
            usage["searches"] += 1
            yield Event("tool_result", found)
            answerability = None
            if not passages and found and chat.grounding:
                started_gate = time.perf_counter()
                answerability = self.grounding.answerability(asked, found)
                timings["gate_s"] = time.perf_counter() - started_gate
            declined = not found
            if answerability is not None:  # a follow-up's words point back: it is judged at a share of the threshold
                share = chat.follow_up_gate_share if asked != question else 1.0
                declined = answerability < self.grounding.gate.threshold * share
            if not passages and declined:
                refusal = Answer(chat.no_evidence_message, [], found, False, False, refused=True, usage=usage,
                                 timings=timings, answerability=answerability)
                yield from self._finish(refusal, started, True)
                return
            passages += found
            conversation += [call, self.dialogue.search_result(found, f"call_{round_}")]
        yield from self._finish(self._grounded_answer(text, asked, passages, usage, timings, said_before, question),
                                started, chat.grounding)

    def _generate(self, conversation, stream_answer: bool, usage: dict, timings: dict, started: float,
                  allow_tool_calls: bool = True):
        """Run one model step; stream it as answer text once it is clearly not a tool call."""
        text, streamed = "", 0

        def should_stop() -> bool:
            head = text.lstrip()
            return "</tool_call>" in head or (not stream_answer and len(head) >= 11 and not is_tool_call(head))

        chat = self.cfg.chat
        emit = stream_answer and not chat.grounding  # checked answers are shown once checked, not as drafted
        pieces = self.generator.stream_messages(conversation, self.dialogue.tools(), chat.max_new_tokens, should_stop,
                                                allow_tool_calls=allow_tool_calls,
                                                unlikely_opening=(chat.no_evidence_message, chat.decline_confidence))
        for piece in pieces:
            timings.setdefault("first_token_s", time.perf_counter() - started)
            text += piece
            if emit and len(text.lstrip()) >= 11 and not is_tool_call(text):
                yield Event("delta", text[streamed:])
                streamed = len(text)
        if emit and not is_tool_call(text) and len(text) > streamed:
            yield Event("delta", text[streamed:])
        usage["completion_tokens"] += self.generator.count_tokens(text)
        return text

    def _query(self, text: str, question: str, usage: dict) -> tuple[str, int]:
        """The model's search query and the passages it asked for (within 1..top_k), or the customer's own
        words and `top_k` when the call is missing or malformed."""
        usage["search_turns"] += 1
        usage["tool_calls"] += int(is_tool_call(text))
        for call in parse_tool_calls(text) if is_tool_call(text) else []:
            query = call["arguments"].get("query")
            if call["name"] == TOOL_NAME and isinstance(query, str) and query.strip():
                usage["valid_tool_calls"] += 1
                return query.strip(), self.dialogue.passages_wanted(call["arguments"])
        return question, self.dialogue.top_k

    def _grounded_answer(self, text: str, question: str, passages: list[Passage], usage: dict, timings: dict,
                         said_before: str = "", latest: str = "") -> Answer:
        """With the grounding checks: only supported sentences, each citing a passage that supports it, filled up
        with the passages' own closest sentences. Without: the model's text with its citation numbers checked."""
        chat = self.cfg.chat
        draft = "" if is_tool_call(text) else text.strip()
        if chat.grounding and passages:
            started = time.perf_counter()
            clean, citations = self.grounding.ground(draft, question, passages, said_before, latest)
            timings["verify_s"] = time.perf_counter() - started
        elif draft:
            clean, citations = verify(draft, passages, chat.attribute_uncited)
        else:  # a search past the cap is no answer
            clean, citations = "", []
        if not clean:
            return Answer(chat.no_evidence_message, [], passages, False, False, refused=True, usage=usage,
                          timings=timings, draft=draft)
        refused = not citations and bool(REFUSAL_RE.search(clean))
        return Answer(clean, citations, passages, bool(citations), False, refused, usage, timings, draft=draft)

    def _finish(self, answer: Answer, started: float, stream_text: bool = False) -> Iterator[Event]:
        if stream_text:
            yield Event("delta", answer.text)
        answer.timings["total_s"] = time.perf_counter() - started
        yield Event("final", answer)

    def answer(self, messages: list[dict]) -> Answer:
        final = None
        for event in self.stream(messages):
            if event.type == "final":
                final = event.data
        return final
