"""What the chat page and the API share: answering, remembering answers, feedback and handoffs.

Answers are kept in memory (bounded) under an id so that a later rating can be stored
with the question, the passages and the adapter that produced it. Conversations (the chat
page's and the APIs') live in the app's database (`FeedbackStore.add_turns`), answers with
their citations and passages, so a conversation and its answers' ratings survive a restart,
are shared by every app process on the same database, and can be exported for training.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from assistant.errors import InvalidMessageError
from assistant.feedback import FeedbackStore

MAX_REMEMBERED = 5000  # answers of the chat page kept in memory for feedback (API answers are in the database)


@dataclass
class AnswerRecord:
    answer_id: str
    conversation_id: str
    question: str
    answer: str
    citations: list[dict]
    passages: list[dict]
    adapter: str
    handoff: bool = False
    extra: dict = field(default_factory=dict)


def _bounded_put(cache: OrderedDict, key, value) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > MAX_REMEMBERED:
        cache.popitem(last=False)


def parse_rating(rating) -> int:
    """1 for helpful, -1 for not helpful; accepts 'up'/'down', 'like'/'dislike', booleans and ±1."""
    if isinstance(rating, bool):
        return 1 if rating else -1
    text = str(rating).strip().lower()
    if text in ("1", "+1", "up", "like", "good", "true", "helpful"):
        return 1
    if text in ("-1", "down", "dislike", "bad", "false", "not helpful"):
        return -1
    raise InvalidMessageError(f"Rating {rating!r} is not understood; send 'up' or 'down'.")


class ChatService:
    def __init__(self, assistant, store: FeedbackStore):
        self.assistant, self.store = assistant, store
        self._lock = threading.Lock()
        self._answers: OrderedDict[str, AnswerRecord] = OrderedDict()
        self.training = None  # a `background.DemoTraining` while the demo adapter trains behind the app

    @property
    def adapter(self) -> str:
        """The adapter serving answers now ('' for the base model)."""
        name = getattr(self.assistant, "adapter_name", None)
        if name is None:
            name = getattr(getattr(self.assistant, "generator", None), "adapter", "") or ""
        return str(name)

    def remember(self, conversation_id: str, question: str, answer) -> AnswerRecord:
        record = AnswerRecord(
            answer_id=uuid.uuid4().hex,
            conversation_id=conversation_id,
            question=question,
            answer=answer.text,
            citations=[c.to_dict() for c in answer.citations],
            passages=[p.to_dict() for p in answer.passages],
            adapter=self.adapter,
            handoff=bool(answer.handoff),
        )
        with self._lock:
            _bounded_put(self._answers, record.answer_id, record)
        return record

    def record(self, answer_id: str) -> AnswerRecord | None:
        """The answer from memory, else from the database (an API answer given before a restart or by another
        process); None when neither knows it."""
        with self._lock:
            found = self._answers.get(answer_id)
        if found is None and answer_id:
            row = self.store.answer_turn(answer_id)
            if row is not None:
                found = AnswerRecord(answer_id, row["conversation_id"], row["question"], row["content"],
                                     row["citations"], row["passages"], row["adapter"])
        return found

    def answers(self) -> list[AnswerRecord]:
        """The remembered answers, oldest first."""
        with self._lock:
            return list(self._answers.values())

    def turns(self, conversation_id: str) -> list[dict]:
        """The conversation so far as chat messages: up to `max_turns` customer messages and their answers (past
        that the assistant asks for a new conversation; what reaches the model is trimmed to its prompt budget)."""
        last = 2 * self.assistant.cfg.chat.max_turns
        return [{"role": t["role"], "content": t["content"]} for t in self.store.conversation(conversation_id, last)]

    def add_turns(self, conversation_id: str, *turns: dict) -> None:
        self.store.add_turns(conversation_id, list(turns))

    def save_exchange(self, conversation_id: str, question: str, answer) -> AnswerRecord:
        """Remember the answer for feedback and add the question and the answer (with its citations and
        passages) to the stored conversation: the chat page and every API keep conversations the same way."""
        record = self.remember(conversation_id, question, answer)
        self.add_turns(conversation_id, {"role": "user", "content": question},
                       {"role": "assistant", "content": answer.text, "answer_id": record.answer_id,
                        "citations": record.citations, "passages": record.passages, "adapter": record.adapter})
        return record

    def feedback(self, answer_id: str, rating, better_answer: str = "", *, question: str = "",
                 answer: str = "") -> int:
        """Store a rating of an answer (durably, before returning); return the feedback id.

        `question`/`answer` stand in when the answer is no longer in memory (e.g. after a restart).
        """
        value = parse_rating(rating)
        record = self.record(answer_id)
        if record is None and not answer:
            raise InvalidMessageError(f"No answer with id {answer_id!r} is known; rate an answer from /chat.")
        if record is None:
            record = AnswerRecord(answer_id, "", question, answer, [], [], self.adapter)
        return self.store.add_feedback(
            question=record.question, answer=record.answer, rating=value, passages=record.passages,
            citations=record.citations, adapter=record.adapter, better_answer=better_answer or "",
            conversation_id=record.conversation_id, answer_id=record.answer_id,
        )

    def converse(self, conversation_id: str, turns: list[dict]) -> Iterator[tuple[str, object]]:
        """Answer the last of `turns` (the conversation so far, the customer's message last): yields
        ("delta", text) as the answer streams, then ("final", result), the JSON every API returns. The
        answer is remembered for feedback and the turns are added to the conversation."""
        answer = None
        for event in self.assistant.stream(turns):
            if event.type == "delta":
                yield "delta", event.data
            elif event.type == "final":
                answer = event.data
        record = self.save_exchange(conversation_id, turns[-1]["content"], answer)
        result = {
            "conversation_id": conversation_id,
            "answer_id": record.answer_id,
            "answer": answer.text,
            "citations": record.citations,
            "grounded": answer.grounded,
            "handoff": answer.handoff,
            "refused": bool(getattr(answer, "refused", False)),
            "small_talk": bool(getattr(answer, "small_talk", False)),
        }
        if answer.handoff:
            result["handoff_ticket"] = self.handoff(conversation_id, self.turns(conversation_id),
                                                    "customer asked for a person")
        yield "final", result

    def handoff(self, conversation_id: str, transcript: list[dict], reason: str) -> int:
        """Record the conversation for a person to take over; return the ticket number."""
        return self.store.add_handoff(transcript=transcript, reason=reason, conversation_id=conversation_id)
