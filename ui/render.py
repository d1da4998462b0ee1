"""Turn answers, passages and errors into what the page and the API show."""

from __future__ import annotations

import logging

from assistant.errors import UserError

log = logging.getLogger("ui")

SEARCH_TITLE = "🔎 Searched the help center for “{query}”"
HANDOFF_PREFIX = "🙋"
ERROR_PREFIX = "⚠️"
NOTICE_PREFIXES = (HANDOFF_PREFIX, ERROR_PREFIX)
UNEXPECTED_ERROR = (
    "Something went wrong while answering (the model or the help-center index failed). "
    "Please try again in a moment, or press “Talk to a person”."
)


def message_text(message: dict) -> str:
    """The text of a chat message whether its content is a string or Gradio's list of parts."""
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def sources_markdown(citations: list[dict] | None) -> str:
    """The Sources panel: each cited document's title, section, file and passage text."""
    if not citations:
        return "_No sources for this answer._"
    blocks = []
    for c in citations:
        # The section is named in the header line, so the passage's own headings are dropped.
        lines = [line for line in (c.get("snippet") or "").strip().splitlines() if not line.lstrip().startswith("#")]
        quoted = "\n".join(lines).strip().replace("\n", "\n> ")
        section = f" — {c['section']}" if c.get("section") and c["section"] != c.get("title") else ""
        blocks.append(f"**[{c['number']}] {c.get('title', '')}**{section}  \n`{c.get('source', '')}`\n\n> {quoted}")
    return "\n\n".join(blocks)


def search_message(query: str, passages: list) -> dict:
    """The collapsible chat message that shows the search step and what it found."""
    found = "\n".join(f"[{p.number}] {p.title} — {p.section} (`{p.source}`)" for p in passages)
    return {
        "role": "assistant",
        "content": found or "No relevant passages found.",
        "metadata": {"title": SEARCH_TITLE.format(query=query), "status": "done"},
    }


def handoff_text(ticket: int) -> str:
    return (f"{HANDOFF_PREFIX} A person from our support team will take over this conversation "
            f"(ticket #{ticket}). They can read everything written here, so there is no need to repeat it.")


def error_message(exc: BaseException) -> str:
    """What to tell the user about a failure: our own message, or a generic one (logged) for a crash."""
    if isinstance(exc, UserError):
        return str(exc)
    log.error("answer failed", exc_info=exc)
    return UNEXPECTED_ERROR


def error_text(exc: BaseException) -> str:
    return f"{ERROR_PREFIX} {error_message(exc)}"


def conversation_turns(history: list[dict]) -> list[dict]:
    """User and answer turns of the chat, without search steps, notices and errors."""
    turns = []
    for message in history:
        text = message_text(message)
        if message.get("role") == "user":
            turns.append({"role": "user", "content": text})
        elif message.get("role") == "assistant" and not message.get("metadata") and not text.startswith(NOTICE_PREFIXES):
            turns.append({"role": "assistant", "content": text})
    return turns
