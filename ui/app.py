"""Build the Gradio Blocks app around an injected `Assistant` (nothing heavy at import time)."""

from __future__ import annotations

import uuid

import gradio as gr

from assistant.assistant import Answer
from assistant.errors import AssistantError


def sources_markdown(answer: Answer | None) -> str:
    """The Sources panel: each cited passage with its document, section and text."""
    if answer is None or not answer.citations:
        return "_No sources for this answer._"
    blocks = []
    for c in answer.citations:
        quoted = c.snippet.strip().replace("\n", "\n> ")
        blocks.append(f"**[{c.number}] {c.title}** — {c.section}  \n`{c.source}`\n\n> {quoted}")
    return "\n\n".join(blocks)


def answer_payload(answer: Answer) -> dict:
    return {
        "answer": answer.text,
        "citations": [c.to_dict() for c in answer.citations],
        "grounded": answer.grounded,
        "handoff": answer.handoff,
    }


def build_app(assistant, title: str = "Support assistant") -> gr.Blocks:
    conversations: dict[str, list[dict]] = {}

    def respond(message: str, history: list[dict]):
        history = list(history or [])
        turns = [{"role": m["role"], "content": m["content"]} for m in history
                 if m["role"] in ("user", "assistant") and not m.get("metadata")]
        turns.append({"role": "user", "content": message})
        history.append({"role": "user", "content": message})
        try:
            streamed, answer = "", None
            for event in assistant.stream(turns):
                if event.type == "tool_call":
                    query = event.data["arguments"]["query"]
                    history.append({"role": "assistant", "content": f"Searched the help center for “{query}”.",
                                    "metadata": {"title": "🔎 Searched the help center", "status": "done"}})
                    history.append({"role": "assistant", "content": ""})
                elif event.type == "delta":
                    streamed += event.data
                    history[-1] = {"role": "assistant", "content": streamed}
                    yield history, gr.skip()
                elif event.type == "final":
                    answer = event.data
                    history[-1] = {"role": "assistant", "content": answer.text}
            yield history, sources_markdown(answer)
        except AssistantError as exc:
            history.append({"role": "assistant", "content": f"⚠️ {exc}"})
            yield history, gr.skip()

    def chat_api(message: str, conversation_id: str = "") -> dict:
        """Answer `message` within conversation `conversation_id` (new when empty)."""
        conversation_id = conversation_id or uuid.uuid4().hex
        turns = conversations.setdefault(conversation_id, [])
        try:
            answer = assistant.answer([*turns, {"role": "user", "content": message}])
        except AssistantError as exc:
            return {"conversation_id": conversation_id, "error": str(exc)}
        turns += [{"role": "user", "content": message}, {"role": "assistant", "content": answer.text}]
        return {"conversation_id": conversation_id, **answer_payload(answer)}

    with gr.Blocks(title=title) as app:
        gr.Markdown(f"## {title}")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=520)
                box = gr.Textbox(placeholder="Ask a question…", show_label=False, submit_btn=True)
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.Markdown("_Sources of the latest answer appear here._", elem_id="sources")
        box.submit(respond, [box, chatbot], [chatbot, sources], api_visibility="private").then(
            lambda: "", None, box, api_visibility="private"
        )
        gr.api(chat_api, api_name="chat")
    return app
