"""The admin Compare view's work, free of Gradio: two adapters answer one question, staff pick the better.

Each saved pick is a preference pair for DPO, so both answers must share one prompt: the
question plus the passages retrieved. Answer A runs the normal chat loop (its model searches
as it would for a customer); answer B runs the same loop with a search that hands back A's
passages, numbered as A saw them. The stored `passages` are therefore exactly the passages
both answers were written from (with `tool_policy: auto` a model may answer without
searching; `notes()` says so).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.assistant import Assistant, load_generator
from assistant.errors import UserError
from assistant.registry import read_registry
from retrieval.passages import Passage

from .admin_tasks import BASE_MODEL_CHOICE
from .render import sources_markdown

CHOICES = ("a", "b", "written")
COMPARISON_COLUMNS = ["id", "time", "question", "adapter A", "adapter B", "choice", "better answer"]


class CompareError(UserError):
    """A compare action that cannot be done as asked; the message says what to do."""


@dataclass
class Comparison:
    """The two answers of the current comparison (kept in the page's state until a pick is saved)."""

    question: str
    adapter_a: str
    adapter_b: str
    answer_a: str
    answer_b: str
    citations_a: list[dict] = field(default_factory=list)
    citations_b: list[dict] = field(default_factory=list)
    passages: list[dict] = field(default_factory=list)
    b_searched: bool = True
    saved_id: int = 0


class ReplaySearcher:
    """A searcher that returns one fixed list of passages on the first search and nothing after."""

    def __init__(self, passages: list[Passage]):
        self.passages, self.used = list(passages), False

    def search(self, query: str, k: int | None = None) -> list[Passage]:
        found = [] if self.used else self.passages
        self.used = True
        return found


def adapter_name(choice: str | None) -> str:
    """The adapter a dropdown choice means ('' for the base model)."""
    return "" if choice in (None, "", BASE_MODEL_CHOICE) else choice


def adapter_label(name: str) -> str:
    return name or BASE_MODEL_CHOICE


def with_adapter(cfg, name: str):
    """`cfg` with the model's adapter set to `name`."""
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, adapter=name))


class Comparer:
    """Answers with any two adapters; keeps at most `cache_size` extra models loaded (least recently used goes).

    Models, not assistants, are cached: each comparison builds two light `Assistant`s, A on the
    served assistant's current searcher (a re-index swaps it) and B on A's passages. The served
    adapter reuses the served model. Entries are keyed by name and registry target, so an alias
    such as `latest` re-pointed by training loads the new run.
    """

    def __init__(self, service, load: Callable = load_generator, cache_size: int = 2):
        self.service, self.load, self.cache_size = service, load, cache_size
        self._models: OrderedDict[tuple[str, str], object] = OrderedDict()
        self._lock = threading.Lock()

    def model(self, name: str):
        """(generator, config) for adapter `name`, loading it when needed."""
        served = self.service.assistant
        if name == self.service.adapter:
            return served.generator, served.cfg
        cfg = with_adapter(served.cfg, name)
        key = (name, read_registry(cfg.model.adapters_dir)["aliases"].get(name, name) if name else "")
        with self._lock:
            if key not in self._models:
                while self._models and len(self._models) >= self.cache_size:
                    self._models.popitem(last=False)  # free memory before loading the next model
                self._models[key] = self.load(cfg)
            self._models.move_to_end(key)
            return self._models[key], cfg

    def compare(self, question: str, choice_a: str, choice_b: str, on_step: Callable[[str], None] | None = None
                ) -> Comparison:
        """Answer `question` with both adapters, B from A's passages."""
        question = (question or "").strip()
        if not question:
            raise CompareError("Type a question first, then press Compare.")
        step = on_step or (lambda desc: None)
        name_a, name_b = adapter_name(choice_a), adapter_name(choice_b)
        turns = [{"role": "user", "content": question}]
        step(f"Answering with A ({adapter_label(name_a)})")
        generator, cfg = self.model(name_a)
        first = Assistant(generator, self.service.assistant.searcher, cfg).answer(turns)
        if first.handoff:
            raise CompareError("That question asks for a person, so both sides would hand off; ask a support question.")
        step(f"Answering with B ({adapter_label(name_b)})")
        generator, cfg = self.model(name_b)
        replay = ReplaySearcher(first.passages)
        shared = self.service.assistant.grounding if cfg.chat.grounding else None  # the served KB's checks, not the replay's
        second = Assistant(generator, replay, cfg, grounding=shared).answer(turns)
        return Comparison(
            question=question, adapter_a=name_a, adapter_b=name_b, answer_a=first.text, answer_b=second.text,
            citations_a=[c.to_dict() for c in first.citations], citations_b=[c.to_dict() for c in second.citations],
            passages=[p.to_dict() for p in first.passages], b_searched=replay.used,
        )

    def save(self, comparison: Comparison | None, choice: str, better_answer: str = "") -> Comparison:
        """Store the pick ('a', 'b', or 'written' with `better_answer`); return the comparison marked saved.

        A pick between two identical answers is refused: chosen and rejected would be the same text.
        """
        if comparison is None:
            raise CompareError("Press Compare to get two answers first, then pick the better one.")
        if comparison.saved_id:
            raise CompareError(f"This comparison is already saved (#{comparison.saved_id}); press Compare for a new one.")
        if choice not in CHOICES:
            raise CompareError(f"Choice must be one of {', '.join(CHOICES)}, got {choice!r}.")
        better_answer = (better_answer or "").strip() if choice == "written" else ""
        if choice == "written" and not better_answer:
            raise CompareError("Write the better answer in the box first, then press Save.")
        if choice != "written" and comparison.answer_a.strip() == comparison.answer_b.strip():
            raise CompareError("The two answers are the same, so neither is better; write a better answer instead.")
        saved_id = self.service.store.add_comparison(
            question=comparison.question, answer_a=comparison.answer_a, answer_b=comparison.answer_b, choice=choice,
            adapter_a=comparison.adapter_a, adapter_b=comparison.adapter_b, passages=comparison.passages,
            better_answer=better_answer,
        )
        return dataclasses.replace(comparison, saved_id=saved_id)


def notes(comparison: Comparison) -> list[str]:
    """Warnings to show with the answers: same adapter twice, identical answers, B answered without searching.

    The same adapter on both sides is allowed (decoding is greedy, so expect the same answer; a
    written better answer is still a useful pair), but it is pointed out.
    """
    out = []
    if comparison.adapter_a == comparison.adapter_b:
        out.append(f"Both sides use {adapter_label(comparison.adapter_a)}; pick two adapters to compare them.")
    if comparison.answer_a.strip() == comparison.answer_b.strip():
        out.append("The answers are identical; only a written better answer can be saved.")
    if comparison.passages and not comparison.b_searched:
        out.append("B answered without searching, so it did not see A's passages.")
    return out


def answer_markdown(side: str, adapter: str, text: str, citations: list[dict]) -> str:
    """One side of the comparison: the adapter, the answer, and its cited sources as in the chat."""
    return f"### {side}: {adapter_label(adapter)}\n\n{text}\n\n#### Sources\n\n{sources_markdown(citations)}"


def comparisons_table(store, limit: int = 20) -> list[list]:
    """The newest saved comparisons first."""
    rows = store.comparisons()[-limit:][::-1]
    return [[r["id"], r["created_at"], r["question"], adapter_label(r["adapter_a"]), adapter_label(r["adapter_b"]),
             r["choice"], r["better_answer"]] for r in rows]
