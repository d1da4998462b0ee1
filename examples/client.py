"""Embed the assistant in another system through its API (run `make demo` first).

    python examples/client.py [http://127.0.0.1:7860/]

Calls the four named endpoints: /search, /chat (twice, in one conversation),
/feedback and, when asked, /handoff. Every endpoint returns JSON; a problem comes back
as {"error": "..."} rather than an exception.
"""

from __future__ import annotations

import json
import sys

from gradio_client import Client


def show(label: str, value: dict) -> None:
    print(f"--- {label}\n{json.dumps(value, indent=2, ensure_ascii=False)[:1500]}\n")


def main(url: str = "http://127.0.0.1:7860/") -> int:
    client = Client(url, verbose=False)

    found = client.predict("return opened headphones", 3, api_name="/search")
    show("/search", {"passages": [f"[{p['number']}] {p['title']} ({p['source']}) {p['score']}" for p in found["passages"]]})

    first = client.predict("Can I return headphones I have opened?", "", api_name="/chat")
    show("/chat", first)
    if "error" in first:
        return 1

    # The same conversation id carries the earlier turns to the assistant.
    follow_up = client.predict("How long do I have to send them back?", first["conversation_id"], api_name="/chat")
    show("/chat (follow-up)", follow_up)

    rating = client.predict(first["answer_id"], "down", "Opened ear tips can't be returned; the rest can.",
                            api_name="/feedback")
    show("/feedback", rating)

    if follow_up.get("handoff") or not follow_up.get("grounded"):
        show("/handoff", client.predict(first["conversation_id"], "no grounded answer", api_name="/handoff"))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
