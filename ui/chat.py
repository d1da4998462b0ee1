"""The customer chat page: streamed answers with a Sources panel, feedback, retry/undo and handoff.

The conversation (messages, its id and the ids of its answers) lives in the browser's
local storage (`gr.BrowserState`), so it survives a page reload.
"""

from __future__ import annotations

import uuid

import gradio as gr

from .render import (conversation_turns, error_text, handoff_text, message_text, search_message,
                     sources_markdown)
from .service import ChatService

NEW_SESSION = {"conversation_id": "", "history": [], "answers": {}}
THANKS_UP = "Thanks for your feedback — it is saved."
THANKS_DOWN = "Thanks — your feedback is saved. If you know what the answer should have said, write it below."


def _session(saved: dict | None) -> dict:
    saved = dict(saved or NEW_SESSION)
    saved["conversation_id"] = saved.get("conversation_id") or uuid.uuid4().hex
    saved["answers"] = dict(saved.get("answers") or {})
    return saved


def answer_stream(service: ChatService, question: str, history: list, saved: dict):
    """Yield (chat, sources, session) while the answer to `question` streams in."""
    history, saved = list(history or []), _session(saved)
    turns = [*conversation_turns(history), {"role": "user", "content": question}]
    if question.strip():
        history.append({"role": "user", "content": question})
    yield history, gr.skip(), gr.skip()
    answer, query, streaming = None, question, False
    try:
        for event in service.assistant.stream(turns):
            if event.type == "tool_call":
                query = (event.data.get("arguments") or {}).get("query", question)
            elif event.type == "tool_result":
                if streaming and not message_text(history[-1]):
                    history.pop()
                history += [search_message(query, event.data), {"role": "assistant", "content": ""}]
                streaming = True
                yield history, gr.skip(), gr.skip()
            elif event.type == "delta":
                if not streaming:
                    history.append({"role": "assistant", "content": ""})
                    streaming = True
                history[-1] = {"role": "assistant", "content": message_text(history[-1]) + event.data}
                yield history, gr.skip(), gr.skip()
            elif event.type == "final":
                answer = event.data
    except Exception as exc:  # noqa: BLE001 - shown in the chat; the app keeps serving
        if streaming:
            history.pop()
        history.append({"role": "assistant", "content": error_text(exc)})
        saved["history"] = history
        yield history, gr.skip(), saved
        return
    if not streaming:
        history.append({"role": "assistant", "content": ""})
    history[-1] = {"role": "assistant", "content": answer.text}
    record = service.remember(saved["conversation_id"], question, answer)
    saved["answers"][str(len(history) - 1)] = record.answer_id
    if answer.handoff:
        ticket = service.handoff(saved["conversation_id"], conversation_turns(history), "customer asked for a person")
        history.append({"role": "assistant", "content": handoff_text(ticket)})
    saved["history"] = history
    yield history, sources_markdown(record.citations), saved


def _cut(history: list, saved: dict) -> tuple[list, dict, str]:
    """Drop the last question and everything after it; return it so it can be asked again."""
    history, saved = list(history or []), _session(saved)
    last_user = max((i for i, m in enumerate(history) if m.get("role") == "user"), default=None)
    if last_user is None:
        return history, saved, ""
    question = message_text(history[last_user])
    saved["answers"] = {k: v for k, v in saved["answers"].items() if int(k) < last_user}
    saved["history"] = history[:last_user]
    return history[:last_user], saved, question


def _answer_index(history: list, session: dict, index: int) -> int:
    """The answer in the group of bot messages that `index` points into (the page groups a
    search step, its answer and any notice under one set of buttons)."""
    start = index
    while start > 0 and history[start - 1].get("role") != "user":
        start -= 1
    end = start
    while end < len(history) and history[end].get("role") != "user":
        end += 1
    return next((i for i in range(start, end) if str(i) in session["answers"]), index)


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
            sources = gr.Markdown("_The sources of the latest answer appear here._", elem_id="sources", max_height=560)

    def respond(message, history, session):
        yield from answer_stream(service, message or "", history, session)

    def retry(history, session):
        history, session, question = _cut(history, session)
        yield from answer_stream(service, question, history, session)

    def undo(history, session):
        history, session, question = _cut(history, session)
        return history, session, question

    def rate(history, session, like: gr.LikeData):
        if like.liked in (None, ""):
            return gr.skip(), gr.skip(), gr.skip()
        index = like.index[0] if isinstance(like.index, (list, tuple)) else like.index
        session = _session(session)
        index = _answer_index(history, session, index)
        question = next((message_text(m) for m in reversed(history[:index]) if m.get("role") == "user"), "")
        try:
            saved_id = service.feedback(session["answers"].get(str(index), ""), like.liked is True,
                                        question=question, answer=message_text(history[index]))
        except Exception as exc:  # noqa: BLE001
            return error_text(exc), gr.Group(visible=False), 0
        up = like.liked is True
        return (THANKS_UP if up else THANKS_DOWN), gr.Group(visible=not up), saved_id

    def save_better(text, saved_id):
        if not saved_id or not (text or "").strip():
            return "Write the better answer first, then press Send.", gr.skip(), gr.skip()
        try:
            service.store.set_better_answer(saved_id, text.strip())
        except Exception as exc:  # noqa: BLE001
            return error_text(exc), gr.skip(), gr.skip()
        return "Saved your better answer — thank you!", gr.Group(visible=False), ""

    def talk_to_person(history, session):
        history, session = list(history or []), _session(session)
        ticket = service.handoff(session["conversation_id"], conversation_turns(history), "customer asked for a person")
        history.append({"role": "assistant", "content": handoff_text(ticket)})
        session["history"] = history
        return history, session

    def show_sources(session, selected: gr.SelectData):  # a click on an answer shows its sources
        index = selected.index[0] if isinstance(selected.index, (list, tuple)) else selected.index
        session = _session(session)
        record = service.record(session["answers"].get(str(_answer_index(session["history"], session, index)), ""))
        return sources_markdown(record.citations) if record else gr.skip()

    def restore(session):
        session = _session(session)
        latest = max(session["answers"], key=int, default="")
        record = service.record(session["answers"].get(latest, ""))
        return session.get("history") or [], session, sources_markdown(record.citations) if record else gr.skip()

    chat_out = [chatbot, sources, saved]
    app.load(restore, saved, [chatbot, saved, sources], api_visibility="private")
    private = {"api_visibility": "private"}
    box.submit(respond, [box, chatbot, saved], chat_out, **private)
    box.submit(lambda: "", None, box, queue=False, **private)
    chatbot.retry(retry, [chatbot, saved], chat_out, **private)
    chatbot.undo(undo, [chatbot, saved], [chatbot, saved, box], **private)
    chatbot.like(rate, [chatbot, saved], [status, better_group, feedback_id], **private)
    chatbot.select(show_sources, saved, sources, **private)
    send_better.click(save_better, [better, feedback_id], [status, better_group, better], **private)
    human.click(talk_to_person, [chatbot, saved], [chatbot, saved], **private)
    chatbot.clear(lambda: (dict(NEW_SESSION), ""), None, [saved, status], **private)
    new.click(lambda: ([], dict(NEW_SESSION), "_The sources of the latest answer appear here._", ""), None,
              [chatbot, saved, sources, status], **private)
