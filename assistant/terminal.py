"""Chat with the assistant in the terminal, on the same loop the web app uses.

    python -m assistant.terminal [--config configs/assistant.yaml] [--adapter latest]

Answers stream in; the sources of each answer are printed under it. Type /reset to
start over and /quit (or Ctrl-D) to leave.
"""

from __future__ import annotations

import sys

from retrieval.index import ensure_index

from .assistant import Assistant
from .config import load_config
from .errors import AssistantError, UserError


def print_sources(answer) -> None:
    for c in answer.citations:
        section = f" > {c.section}" if c.section and c.section != c.title else ""
        print(f"  [{c.number}] {c.title}{section} ({c.source})")
    if answer.handoff:
        print("  (handed over to a person)")


def main(argv=None) -> int:
    cfg, _ = load_config(argv)
    try:
        ensure_index(cfg.retrieval)
        assistant = Assistant.from_config(cfg)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{cfg.chat.assistant_name} from {cfg.chat.company_name}. /reset starts over, /quit leaves.")
    messages: list[dict] = []
    while True:
        try:
            line = input("\nyou> ").strip()
        except EOFError:
            return 0
        if line in ("/quit", "/exit"):
            return 0
        if line == "/reset":
            messages = []
            continue
        messages.append({"role": "user", "content": line})
        print(f"{cfg.chat.assistant_name}> ", end="", flush=True)
        try:
            for event in assistant.stream(messages):
                if event.type == "tool_call":
                    print(f"(searching: {event.data['arguments']['query']})\n", end="", flush=True)
                elif event.type == "delta":
                    print(event.data, end="", flush=True)
                elif event.type == "final":
                    print()
                    print_sources(event.data)
                    messages.append({"role": "assistant", "content": event.data.text})
        except AssistantError as exc:
            messages.pop()
            print(f"\n{exc}")


if __name__ == "__main__":
    sys.exit(main())
