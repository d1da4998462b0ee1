"""Checks on incoming conversations, trimming of history to a token budget, and follow-up questions."""

from __future__ import annotations

import re

from .citations import MARKER_RE
from .config import ChatConfig
from .errors import InvalidMessageError

ROLES = {"system", "user", "assistant", "tool"}


def validate(messages: list[dict], cfg: ChatConfig) -> str:
    """Return the latest customer message, or raise `InvalidMessageError` saying what is wrong."""
    if not isinstance(messages, list) or not messages:
        raise InvalidMessageError("The conversation is empty; send a question.")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            role = message.get("role") if isinstance(message, dict) else message
            raise InvalidMessageError(f"Message {i} has role {role!r}; use one of {sorted(ROLES)}.")
        if not isinstance(message.get("content") or "", str):
            raise InvalidMessageError(f"Message {i} has non-text content; send plain text.")
    if messages[-1]["role"] != "user":
        raise InvalidMessageError("The last message must come from the user.")
    question = (messages[-1].get("content") or "").strip()
    if not question:
        raise InvalidMessageError("The message is empty; type a question.")
    if len(question) > cfg.max_message_chars:
        raise InvalidMessageError(
            f"The message is {len(question)} characters long; the limit is {cfg.max_message_chars}. Please shorten it."
        )
    turns = sum(1 for m in messages if m["role"] == "user")
    if turns > cfg.max_turns:
        raise InvalidMessageError(
            f"This conversation has reached {cfg.max_turns} messages; please start a new conversation."
        )
    return question


def trim_history(history: list[dict], budget: int, count_tokens) -> list[dict]:
    """Drop the oldest turns until the rest fits `budget` tokens; the latest message always stays."""
    kept, used = [], 0
    for message in reversed(history):
        cost = count_tokens(message.get("content") or "") + 8  # role markers and separators
        if kept and used + cost > budget:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    while len(kept) > 1 and kept[0]["role"] != "user":  # never start mid-turn
        kept.pop(0)
    return kept


FOLLOW_UP_RE = re.compile(
    r"^\W*(and|but|also|so|or|what about|how about|what if|same|then|ok(ay)?|why|which one)\b"
    r"|\b(it|its|it's|that|this|those|these|they|them|their|there|the same|the other|one|ones|first|second|third"
    r"|former|latter|either|neither|both)\b",
    re.IGNORECASE,
)


def depends_on_history(message: str) -> bool:
    """True for a message that cannot be understood alone: it opens like a follow-up ("and in the UK?",
    "what about the Pods?"), points back ("is it covered?", "the second one") or is only a few words."""
    return bool(FOLLOW_UP_RE.search(message)) or len(re.findall(r"\w+", message)) <= 3


def standalone_question(history: list[dict], question: str, earlier_messages: int = 3) -> str:
    """What the search and the grounding checks work from: the latest message, preceded by the customer's
    `earlier_messages` previous messages when it depends on them ("and how long does that take?"). The
    latest message is never lost, and the model's own search query is searched beside it (`Assistant`)."""
    earlier = [(m.get("content") or "").strip() for m in history[:-1] if m.get("role") == "user"]
    if not earlier or not depends_on_history(question):
        return question
    return " ".join([*earlier[-earlier_messages:], question.strip()])


def search_queries(history: list[dict], question: str) -> list[str]:
    """The searches a message's first search fuses: its stand-alone form (`standalone_question`) and, for a
    follow-up, also the previous answer followed by the latest message. The customer's own words often lack
    what the follow-up turns on ("and if they've stopped making that one?" after "is that covered?"); the
    answer just shown names it in the help center's words ("repair it or replace it with the same model")."""
    asked = standalone_question(history, question)
    if asked == question:
        return [question]
    answer = next((m.get("content") or "" for m in reversed(history[:-1]) if m.get("role") == "assistant"), "")
    answer = MARKER_RE.sub(" ", answer).replace('"', " ").strip()
    return [asked, f"{answer} {question.strip()}"] if answer else [asked]
