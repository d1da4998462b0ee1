"""The named endpoints for `gradio_client`: /chat, /chat_stream, /search, /feedback and /handoff.

Every endpoint returns JSON; a problem the caller can fix comes back as {"error": "..."}
instead of an exception, so clients can show it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import gradio as gr

from .render import error_message
from .service import ChatService


def _text(value, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text")
    return value


def _error(exc: BaseException) -> dict:
    if isinstance(exc, TypeError):
        return {"error": f"Bad request: {exc}."}
    return {"error": error_message(exc)}


def register_api(service: ChatService) -> None:
    """Add the endpoints to the Blocks being built (call inside `with gr.Blocks()`)."""

    def chat(message: str, conversation_id: str = "") -> dict:
        """Answer `message` within `conversation_id` (a new conversation when empty).

        Returns answer, answer_id (for /feedback), citations, grounded, refused, handoff (and handoff_ticket),
        small_talk."""
        result = {}
        for kind, value in chat_stream(message, conversation_id):
            if kind == "final":
                result = value
        return result

    def chat_stream(message: str, conversation_id: str = ""):
        """As /chat, streamed: {"delta": text} pieces as the answer is written, then the same JSON as /chat."""
        try:
            message = _text(message, "message")
            conversation_id = _text(conversation_id, "conversation_id") or uuid.uuid4().hex
            turns = [*service.turns(conversation_id), {"role": "user", "content": message}]
            for kind, value in service.converse(conversation_id, turns):
                yield kind, ({"delta": value} if kind == "delta" else value)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message, the app keeps serving
            yield "final", {"conversation_id": conversation_id if isinstance(conversation_id, str) else "", **_error(exc)}

    def chat_stream_endpoint(message: str, conversation_id: str = "") -> Iterator[dict]:
        """As /chat, streamed: {"delta": text} pieces as the answer is written, then the same JSON as /chat."""
        for _, value in chat_stream(message, conversation_id):
            yield value

    def search(query: str, k: int = 0) -> dict:
        """Search the help center for `k` passages (0: the configured top_k, at most 10); returns numbered
        passages with title, section, source and score."""
        try:
            query = _text(query, "query")
            if not query.strip():
                return {"error": "The query is empty; type what to look for.", "passages": []}
            k = max(1, min(int(k or service.assistant.cfg.retrieval.top_k), 10))
            passages = service.assistant.searcher.search(query, k)
        except Exception as exc:  # noqa: BLE001
            return {**_error(exc), "passages": []}
        return {"passages": [p.to_dict() for p in passages]}

    def feedback(answer_id: str, rating: str, better_answer: str = "") -> dict:
        """Rate an answer from /chat: rating 'up' or 'down', optionally with a better answer."""
        try:
            feedback_id = service.feedback(_text(answer_id, "answer_id"), rating, _text(better_answer, "better_answer"))
        except Exception as exc:  # noqa: BLE001
            return {"stored": False, **_error(exc)}
        return {"stored": True, "feedback_id": feedback_id}

    def handoff(conversation_id: str, reason: str = "") -> dict:
        """Hand the conversation to a person; returns the ticket number."""
        try:
            conversation_id = _text(conversation_id, "conversation_id")
            ticket = service.handoff(conversation_id, service.turns(conversation_id), _text(reason, "reason"))
        except Exception as exc:  # noqa: BLE001
            return _error(exc)
        return {"ticket": ticket, "conversation_id": conversation_id}

    for fn in (chat, search, feedback, handoff):
        gr.api(fn, api_name=fn.__name__)
    gr.api(chat_stream_endpoint, api_name="chat_stream")
