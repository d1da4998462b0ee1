"""Export served conversations as SFT training dialogues (JSONL), personal data masked.

    python -m training.export [--db PATH] [--out PATH] [--since_id N]

Reads the conversations the web app stored, chat page and APIs (`FeedbackStore` turns; emails, phone
and card numbers were masked before they were written, and are masked again here). Each
conversation becomes one line in the data/sft format, in the served dialogue
(`assistant.dialogue`): every customer message, the search call and the passages its
answer was written from, then the answer. Answers with no passages (small talk, handoffs,
declines before a search) follow the customer message directly. Review the file before
training on it: a conversation is what was served, not necessarily a good answer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assistant.dialogue import Dialogue
from retrieval.config import cache_home

from .errors import TrainingError
from .preferences import clean, open_store, rebuild_passages, write_jsonl


def default_out() -> Path:
    return cache_home() / "exports" / "conversations-sft.jsonl"


def conversation_dialogue(turns: list[dict], dialogue: Dialogue) -> list[dict]:
    """The served messages of one stored conversation (without the system prompt: training adds it)."""
    messages, question = [], ""
    for i, turn in enumerate(turns):
        text = clean(turn["content"])
        if turn["role"] == "user":
            question = text
            messages.append({"role": "user", "content": text})
        elif text and messages and messages[-1]["role"] == "user":
            if turn["passages"]:
                call_id = f"call_{i}"
                messages += [dialogue.search_call(question, call_id),
                             dialogue.search_result(rebuild_passages(turn["passages"]), call_id)]
            messages.append({"role": "assistant", "content": text})
    return messages


def export_conversations(db: str | Path | None = None, out: str | Path | None = None, since_id: int = 0,
                         dialogue: Dialogue | None = None) -> tuple[Path, int]:
    """Write every stored conversation with at least one answer to `out`; returns `(out, conversations)`."""
    if dialogue is None:
        from assistant.config import load_config

        dialogue = Dialogue.from_config(load_config([])[0])
    store = open_store(db)
    try:
        lines = []
        for conversation_id in store.conversation_ids(since_id):
            messages = conversation_dialogue(store.conversation(conversation_id), dialogue)
            if any(m["role"] == "assistant" for m in messages):
                while messages[-1]["role"] != "assistant":
                    messages.pop()  # a last customer message nobody answered teaches nothing
                lines.append({"messages": messages, "conversation_id": conversation_id})
    finally:
        store.close()
    out = Path(out) if out else default_out()
    write_jsonl(lines, out)
    return out, len(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.export", description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="", help="the app's database (default: the feedback database)")
    parser.add_argument("--out", default="", help=f"file to write (default: {default_out()})")
    parser.add_argument("--since_id", type=int, default=0, help="only conversations with a turn after this turn id")
    args = parser.parse_args(argv)
    try:
        out, count = export_conversations(args.db, args.out, args.since_id)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    noun = "conversation" if count == 1 else "conversations"
    print(f"{count} {noun} written to {out}" + ("" if count else " (answer questions in the chat or the API first)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
