"""Talk to the assistant through its OpenAI-compatible endpoint (run `make demo` first).

    python examples/openai_client.py [http://127.0.0.1:7860/v1]

Any chat widget or SDK that speaks the OpenAI chat API works the same way. The answer's
citations, flags and conversation id come in the extra `deskmate` field. Set
DESKMATE_API_KEY to the key the app requires, if it requires one.
"""

from __future__ import annotations

import os
import sys

from openai import OpenAI


def main(base_url: str = "http://127.0.0.1:7860/v1") -> int:
    client = OpenAI(base_url=base_url, api_key=os.environ.get("DESKMATE_API_KEY") or "none")
    messages = [{"role": "user", "content": "Can I return headphones I have opened?"}]

    reply = client.chat.completions.create(model="deskmate", messages=messages)
    extra = reply.model_extra["deskmate"]
    print(reply.choices[0].message.content)
    for citation in extra["citations"]:
        print(f"  [{citation['number']}] {citation['title']} ({citation['source']})")

    messages += [{"role": "assistant", "content": reply.choices[0].message.content},
                 {"role": "user", "content": "How long does the refund take to reach my card?"}]
    print()
    for chunk in client.chat.completions.create(model="deskmate", messages=messages, stream=True,
                                                extra_body={"conversation_id": extra["conversation_id"]}):
        print(chunk.choices[0].delta.content or "", end="", flush=True)
        if chunk.choices[0].finish_reason:
            print(f"\n  grounded: {chunk.model_extra['deskmate']['grounded']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
