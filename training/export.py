"""Export served conversations as SFT training dialogues (JSONL), or their questions to label, personal data masked.

    python -m training.export [--db PATH] [--out PATH] [--since_id N]
    python -m training.export --questions [--db PATH] [--out PATH]    # then: training.grounding --calibrate

Reads the conversations the web app stored, chat page and APIs (`FeedbackStore` turns; emails, phone
and card numbers were masked before they were written, and are masked again here). Each
conversation becomes one line in the data/sft format, in the served dialogue
(`assistant.dialogue`): every customer message, the search call and the passages its
answer was written from, then the answer. Answers with no passages (small talk, handoffs,
declines before a search) follow the customer message directly. Review the file before
training on it: a conversation is what was served, not necessarily a good answer.

`--questions` writes each conversation's first question once (after any greeting: the
message that stands alone) with the answer it got and `"answerable": null`. A person sets each to true (the help
center answers it) or false (it does not), deletes the lines that are not questions, and
`python -m training.grounding --calibrate FILE` sets the answerability gate's threshold
from the real questions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assistant.dialogue import Dialogue
from assistant.small_talk import small_talk_kind
from retrieval.config import cache_home

from .errors import TrainingError
from .preferences import clean, open_store, rebuild_passages, same_question_key, write_jsonl


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


def default_questions_out() -> Path:
    return cache_home() / "exports" / "questions-to-label.jsonl"


def export_questions(db: str | Path | None = None, out: str | Path | None = None, since_id: int = 0) -> tuple[Path, int]:
    """Write the first question of every stored conversation (after any greeting; the message that stands
    alone, unlike the follow-ups), each question once, with the answer it got and `answerable: null` to fill in; returns `(out, questions)`."""
    store = open_store(db)
    try:
        lines, seen = [], set()
        for conversation_id in store.conversation_ids(since_id):
            turns = store.conversation(conversation_id)
            first = next((i for i, turn in enumerate(turns)
                          if turn["role"] == "user" and clean(turn["content"]) and not small_talk_kind(clean(turn["content"]))),
                         None)
            question = clean(turns[first]["content"]) if first is not None else ""
            if not question or same_question_key(question) in seen:
                continue
            seen.add(same_question_key(question))
            answer = next((clean(t["content"]) for t in turns[first + 1:] if t["role"] == "assistant"), "")
            lines.append({"question": question, "answerable": None, "served_answer": answer,
                          "conversation_id": conversation_id})
    finally:
        store.close()
    out = Path(out) if out else default_questions_out()
    write_jsonl(lines, out)
    return out, len(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.export", description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="", help="the app's database (default: the feedback database)")
    parser.add_argument("--out", default="", help=f"file to write (default: {default_out()})")
    parser.add_argument("--since_id", type=int, default=0, help="only conversations with a turn after this turn id")
    parser.add_argument("--questions", action="store_true",
                        help=f"write the conversations' opening questions to label instead (default: {default_questions_out()})")
    args = parser.parse_args(argv)
    try:
        export = export_questions if args.questions else export_conversations
        out, count = export(args.db, args.out, args.since_id)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    noun = ("question" if args.questions else "conversation") + ("" if count == 1 else "s")
    print(f"{count} {noun} written to {out}" + ("" if count else " (answer questions in the chat or the API first)"))
    if args.questions and count:
        print('Set each "answerable" to true or false, then: python -m training.grounding --calibrate ' + str(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
