"""The customer chat page: streamed answers with a Sources panel, feedback, retry/undo and handoff."""

from __future__ import annotations

import gradio as gr

from .chat_handlers import NEW_SESSION, NO_SOURCES_YET, ChatHandlers
from .service import ChatService


def build_chat(app: gr.Blocks, service: ChatService) -> None:
    """Lay out the chat page and wire its events (call inside `with gr.Blocks()`)."""
    saved = gr.BrowserState(NEW_SESSION, storage_key="deskmate-chat")
    feedback_id = gr.State(0)
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="Chat", height=520, elem_id="chat", buttons=["copy"],
                                 placeholder="Ask about orders, shipping, returns, your products…")
            box = gr.Textbox(placeholder="Type your question…", show_label=False, submit_btn=True,
                             elem_id="question", max_lines=6)
            with gr.Row():
                human = gr.Button("🙋 Talk to a person", elem_id="handoff", size="sm")
                new = gr.Button("New conversation", size="sm")
            status = gr.Markdown(elem_id="feedback-status")
            with gr.Group(visible=False) as better_group:
                better = gr.Textbox(label="A better answer (optional)", lines=3, elem_id="better-answer")
                send_better = gr.Button("Send better answer", size="sm")
        with gr.Column(scale=2):
            gr.Markdown("### Sources")
            sources = gr.Markdown(NO_SOURCES_YET, elem_id="sources", max_height=560)

    on = ChatHandlers(service)
    chat_out, private = [chatbot, sources, saved], {"api_visibility": "private"}
    app.load(on.restore, saved, [chatbot, saved, sources], **private)
    box.submit(on.respond, [box, chatbot, saved], chat_out, **private)
    box.submit(lambda: "", None, box, queue=False, **private)
    chatbot.retry(on.retry, [chatbot, saved], chat_out, **private)
    chatbot.undo(on.undo, [chatbot, saved], [chatbot, saved, box], **private)
    chatbot.like(on.rate, [chatbot, saved], [status, better_group, feedback_id], **private)
    chatbot.select(on.show_sources, saved, sources, **private)
    send_better.click(on.save_better, [better, feedback_id], [status, better_group, better], **private)
    human.click(on.talk_to_person, [chatbot, saved], [chatbot, saved], **private)
    chatbot.clear(on.clear, None, [chatbot, saved, sources, status], **private)
    new.click(on.clear, None, [chatbot, saved, sources, status], **private)
