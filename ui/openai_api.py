"""An OpenAI-compatible `POST /v1/chat/completions` on the web app's server, for chat widgets and SDKs.

    client = OpenAI(base_url="http://127.0.0.1:7860/v1", api_key="...")   # any key when none is configured
    client.chat.completions.create(model="deskmate", messages=[...], stream=True)

The answer is the same as /chat's (search, grounding checks, citations); the client's own
system messages are ignored (identity and rules come from the configuration). Besides the
usual fields, every response (and the last streamed chunk) carries `deskmate`:
conversation_id, answer_id (for /feedback), citations, grounded, refused, handoff,
handoff_ticket, small_talk. Send `conversation_id` in the request body (the SDK's
`extra_body`) to add the turns to a known conversation. A key is required when `api_key`
(or DESKMATE_API_KEY) is set. With grounding on, the checked answer arrives as one piece.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.routing import Route

from assistant.conversation import validate
from assistant.errors import UserError

from .render import error_message, message_text
from .service import ChatService

PATH = "/v1/chat/completions"


def error_response(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status)


def customer_turns(messages) -> list[dict]:
    """The user and assistant turns of an OpenAI `messages` list (text parts joined); other roles dropped."""
    if not isinstance(messages, list):
        raise UserError("`messages` must be a list of {role, content} objects.")
    turns = []
    for message in messages:
        if not isinstance(message, dict):
            raise UserError("Each message must be an object with `role` and `content`.")
        if message.get("role") in ("user", "assistant"):
            turns.append({"role": message["role"], "content": message_text(message)})
    return turns


def add_openai_routes(server, service: ChatService, api_key: str = "", concurrency: int = 4) -> None:
    """Add the endpoint to the app's running server (a FastAPI app), ahead of the web app's own routes.
    At most `concurrency` answers are worked on at once; further requests wait for a turn."""
    slots = threading.BoundedSemaphore(max(1, concurrency))

    def answer(conversation_id: str, turns: list[dict]):
        with slots:
            yield from service.converse(conversation_id, turns)

    async def completions(request: Request):
        if api_key and not hmac.compare_digest(request.headers.get("authorization", "").encode(),
                                               f"Bearer {api_key}".encode()):
            return error_response(401, "Missing or wrong API key: send `Authorization: Bearer <key>`.",
                                  "authentication_error")
        try:
            body = await request.json()
        except ValueError:
            return error_response(400, "The request body must be JSON.")
        try:
            if not isinstance(body, dict):
                raise UserError("The request body must be a JSON object with `messages`.")
            turns = customer_turns(body.get("messages"))
            validate(turns, service.assistant.cfg.chat)
            conversation_id = body.get("conversation_id") or uuid.uuid4().hex
            if not isinstance(conversation_id, str):
                raise UserError("`conversation_id` must be text.")
        except UserError as exc:
            return error_response(400, str(exc))
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": service.adapter or "base"}
        if body.get("stream"):
            return StreamingResponse(stream(head, conversation_id, turns), media_type="text/event-stream")
        try:
            events = await run_in_threadpool(lambda: list(answer(conversation_id, turns)))
        except Exception as exc:  # noqa: BLE001 - the caller gets a message, the app keeps serving
            return error_response(500, error_message(exc), "server_error")
        result = events[-1][1]
        return JSONResponse({
            **head, "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result["answer"]},
                         "finish_reason": "stop"}],
            "deskmate": extra(result),
        })

    async def stream(head: dict, conversation_id: str, turns: list[dict]):
        def chunk(delta: dict, finish=None, **more) -> str:
            payload = {**head, "object": "chat.completion.chunk",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **more}
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

        yield chunk({"role": "assistant"})
        try:
            async for kind, value in iterate_in_threadpool(answer(conversation_id, turns)):
                if kind == "delta":
                    yield chunk({"content": value})
                else:
                    yield chunk({}, "stop", deskmate=extra(value))
        except Exception as exc:  # noqa: BLE001 - headers are sent: the error goes in the stream
            yield f"data: {json.dumps({'error': {'message': error_message(exc), 'type': 'server_error'}})}\n\n"
        yield "data: [DONE]\n\n"

    server.router.routes.insert(0, Route(PATH, completions, methods=["POST"]))


def extra(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "answer"}
