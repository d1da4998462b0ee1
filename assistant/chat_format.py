"""The one chat format shared by serving and training.

Conversations are OpenAI-style messages (`system|user|assistant|tool`, assistant tool
calls under `tool_calls`). `render_conversation` turns them into the model's prompt
through the tokenizer's chat template. Templates without tool support (SmolLM2's, for
one) get Hermes-style tool use: the tool schemas listed in the system prompt, calls as
`<tool_call>{json}</tool_call>` and results as `<tool_response>...</tool_response>`.
"""

from __future__ import annotations

import json
import re

TOOL_CALL_RE = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def template_supports_tools(tokenizer) -> bool:
    template = tokenizer.chat_template or ""
    return "tools" in template and "tool_calls" in template


def hermes_tools_prompt(tools: list[dict]) -> str:
    schemas = "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
    return (
        "\n\nYou can call these tools:\n<tools>\n"
        f"{schemas}\n</tools>\n"
        "To call a tool, reply with only:\n"
        '<tool_call>\n{"name": "<tool name>", "arguments": {<arguments as JSON>}}\n</tool_call>'
    )


def format_tool_call(call: dict) -> str:
    function = call.get("function", call)
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        arguments = json.loads(arguments) if arguments.strip() else {}
    payload = json.dumps({"name": function["name"], "arguments": arguments}, ensure_ascii=False)
    return f"<tool_call>\n{payload}\n</tool_call>"


def to_hermes(messages: list[dict], tools: list[dict] | None) -> list[dict]:
    """Rewrite tool calls and tool results as plain-text turns for templates without tool support."""
    out = []
    for message in messages:
        role, content = message["role"], message.get("content") or ""
        if role == "system" and tools:
            content = content + hermes_tools_prompt(tools)
        elif role == "assistant" and message.get("tool_calls"):
            calls = "\n".join(format_tool_call(c) for c in message["tool_calls"])
            content = f"{content}\n{calls}".strip()
        elif role == "tool":
            content = f"<tool_response>\n{content}\n</tool_response>"
        out.append({"role": role, "content": content})
    if tools and (not out or out[0]["role"] != "system"):
        out.insert(0, {"role": "system", "content": hermes_tools_prompt(tools).strip()})
    return out


def render_conversation(tokenizer, messages: list[dict], tools: list[dict] | None = None,
                        add_generation_prompt: bool = False) -> str:
    """The exact prompt text the model sees, for serving and for training."""
    if template_supports_tools(tokenizer):
        return tokenizer.apply_chat_template(
            messages, tools=tools, tokenize=False, add_generation_prompt=add_generation_prompt
        )
    return tokenizer.apply_chat_template(
        to_hermes(messages, tools), tokenize=False, add_generation_prompt=add_generation_prompt
    )


def parse_tool_calls(text: str) -> list[dict]:
    """Tool calls found in generated text, as `{"name", "arguments"}` dicts; malformed ones are skipped."""
    calls = []
    for raw in TOOL_CALL_RE.findall(text):
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
            continue
        arguments = payload.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                continue
        if isinstance(arguments, dict):
            calls.append({"name": payload["name"], "arguments": arguments})
    return calls


def tool_call_message(name: str, arguments: dict, call_id: str = "call_0") -> dict:
    """An assistant message that calls a tool, in the shared OpenAI-style format."""
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}],
    }
