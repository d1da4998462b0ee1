"""What the chat page does on each event: stream an answer, retry, undo, rate, hand off, restore.

The session (messages, conversation id, and the id of the answer at each message index)
is kept in the browser's local storage, so the conversation survives a page reload; each
exchange is also stored in the app's database (`ChatService.save_exchange`).
"""

from __future__ import annotations

import uuid

import gradio as gr

from .render import (conversation_turns, error_text, handoff_text, message_text, search_message,
                     sources_markdown)
from .service import ChatService

NEW_SESSION = {"conversation_id": "", "history": [], "answers": {}}
THANKS_UP = "Thanks for your feedback — it is saved."
NO_SOURCES_YET = "_The sources of the latest answer appear here._"
THANKS_DOWN = "Thanks — your feedback is saved. If you know what the answer should have said, write it below."


def session_state(saved: dict | None) -> dict:
    saved = dict(saved or NEW_SESSION)
    saved["conversation_id"] = saved.get("conversation_id") or uuid.uuid4().hex
    saved["answers"] = dict(saved.get("answers") or {})
    return saved


def answer_stream(service: ChatService, question: str, history: list, saved: dict):
    """Yield (chat, sources, session) while the answer to `question` streams in."""
    history, saved = list(history or []), session_state(saved)
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
    record = service.save_exchange(saved["conversation_id"], question, answer)
    saved["answers"][str(len(history) - 1)] = record.answer_id
    if answer.handoff:
        ticket = service.handoff(saved["conversation_id"], conversation_turns(history), "customer asked for a person")
        history.append({"role": "assistant", "content": handoff_text(ticket)})
    saved["history"] = history
    yield history, sources_markdown(record.citations), saved


def drop_last_question(history: list, saved: dict) -> tuple[list, dict, str]:
    """Drop the last question and everything after it; return it so it can be asked again."""
    history, saved = list(history or []), session_state(saved)
    last_user = max((i for i, m in enumerate(history) if m.get("role") == "user"), default=None)
    if last_user is None:
        return history, saved, ""
    question = message_text(history[last_user])
    saved["answers"] = {k: v for k, v in saved["answers"].items() if int(k) < last_user}
    saved["history"] = history[:last_user]
    return history[:last_user], saved, question


def answer_index(history: list, session: dict, index: int) -> int:
    """The answer in the group of bot messages that `index` points into (the page groups a
    search step, its answer and any notice under one set of buttons)."""
    start = index
    while start > 0 and history[start - 1].get("role") != "user":
        start -= 1
    end = start
    while end < len(history) and history[end].get("role") != "user":
        end += 1
    return next((i for i in range(start, end) if str(i) in session["answers"]), index)


def _index(data) -> int:
    return data.index[0] if isinstance(data.index, (list, tuple)) else data.index


class ChatHandlers:
    """The page's event handlers, bound to one `ChatService`."""

    def __init__(self, service: ChatService):
        self.service = service

    def respond(self, message, history, session):
        yield from answer_stream(self.service, message or "", history, session)

    def retry(self, history, session):
        history, session, question = drop_last_question(history, session)
        yield from answer_stream(self.service, question, history, session)

    def undo(self, history, session):
        return drop_last_question(history, session)

    def rate(self, history, session, like: gr.LikeData):
        """Store a thumbs up/down at once; after a thumbs down, offer the better-answer box."""
        if like.liked in (None, ""):
            return gr.skip(), gr.skip(), gr.skip()
        session = session_state(session)
        index = answer_index(history, session, _index(like))
        question = next((message_text(m) for m in reversed(history[:index]) if m.get("role") == "user"), "")
        up = like.liked is True
        try:
            saved_id = self.service.feedback(session["answers"].get(str(index), ""), up,
                                             question=question, answer=message_text(history[index]))
        except Exception as exc:  # noqa: BLE001 - shown to the customer; nothing was confirmed
            return error_text(exc), gr.Group(visible=False), 0
        return (THANKS_UP if up else THANKS_DOWN), gr.Group(visible=not up), saved_id

    def save_better(self, text, saved_id):
        if not saved_id or not (text or "").strip():
            return "Write the better answer first, then press Send.", gr.skip(), gr.skip()
        try:
            self.service.store.set_better_answer(saved_id, text.strip())
        except Exception as exc:  # noqa: BLE001
            return error_text(exc), gr.skip(), gr.skip()
        return "Saved your better answer — thank you!", gr.Group(visible=False), ""

    def talk_to_person(self, history, session):
        history, session = list(history or []), session_state(session)
        ticket = self.service.handoff(session["conversation_id"], conversation_turns(history),
                                      "customer asked for a person")
        history.append({"role": "assistant", "content": handoff_text(ticket)})
        session["history"] = history
        return history, session

    def show_sources(self, session, selected: gr.SelectData):
        """A click on an answer shows that answer's sources."""
        session = session_state(session)
        index = answer_index(session["history"], session, _index(selected))
        record = self.service.record(session["answers"].get(str(index), ""))
        return sources_markdown(record.citations) if record else gr.skip()

    def restore(self, session):
        """On page load: the stored conversation and the sources of its latest answer."""
        session = session_state(session)
        latest = max(session["answers"], key=int, default="")
        record = self.service.record(session["answers"].get(latest, ""))
        return session.get("history") or [], session, sources_markdown(record.citations) if record else gr.skip()

    @staticmethod
    def clear():
        return [], dict(NEW_SESSION), NO_SOURCES_YET, ""
