"""Turn dialogues and preference pairs into token ids, rendered exactly as the assistant serves them.

Rendering goes through `assistant.chat_format.render_conversation`, with the served
dialogue's system prompt (`assistant.dialogue`, from the assistant settings the run
reads) inserted when a dialogue has none and the search tool's schema when a line lists
no tools. The loss mask covers the assistant turns only (tool calls
included, up to and including the end-of-turn token); it is computed from the rendering
itself: the text of each assistant turn is what `render(messages[:i+1])` adds to
`render(messages[:i], add_generation_prompt=True)`.
"""

from __future__ import annotations

from assistant.chat_format import render_conversation
from assistant.dialogue import Dialogue

from .errors import EmptyMaskError, TrainingError


def serving_view(messages: list[dict], tools: list[dict] | None, dialogue: Dialogue) -> tuple[list[dict], list[dict]]:
    """The messages and tools as the served model sees them."""
    return dialogue.with_system(messages), list(tools) if tools else dialogue.tools()


def assistant_spans(tokenizer, messages: list[dict], tools: list[dict]) -> tuple[str, list[tuple[int, int]]]:
    """The rendered text and the character span of every assistant turn in it."""
    text = render_conversation(tokenizer, messages, tools)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render_conversation(tokenizer, messages[:i], tools, add_generation_prompt=True)
        upto = render_conversation(tokenizer, messages[: i + 1], tools)
        if not (upto.startswith(before) and text.startswith(upto)):
            raise TrainingError(
                "The chat template does not render a conversation's beginning the same way as the whole, so the "
                "assistant turns cannot be located; use a model whose template renders prefixes consistently."
            )
        spans.append((len(before), len(upto.rstrip())))  # the turn through its end-of-turn token
    return text, spans


def tokenize_segments(tokenizer, text: str, spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Token ids of `text` and a 0/1 mask that is 1 inside `spans`.

    Each piece is tokenized on its own, as at serving time, where the prompt ending in
    the assistant header is tokenized before the model adds its turn.
    """
    ids, mask, cursor = [], [], 0
    for start, end in [*spans, (len(text), len(text))]:
        for piece, bit in ((text[cursor:start], 0), (text[start:end], 1)):
            if piece:
                piece_ids = tokenizer(piece, add_special_tokens=False)["input_ids"]
                ids += piece_ids
                mask += [bit] * len(piece_ids)
        cursor = end
    return ids, mask


def tokenize_sft(tokenizer, record: dict, dialogue: Dialogue, where: str = "sample") -> dict:
    """`input_ids` and `assistant_masks` for one dialogue; fails if no token is trained on."""
    messages, tools = serving_view(record["messages"], record.get("tools"), dialogue)
    text, spans = assistant_spans(tokenizer, messages, tools)
    input_ids, mask = tokenize_segments(tokenizer, text, spans)
    if not any(mask):
        raise EmptyMaskError(
            f"{where}: no assistant tokens to learn from (empty loss mask); check the dialogue has a non-empty "
            "assistant turn and that the chat template renders assistant messages."
        )
    return {"input_ids": input_ids, "assistant_masks": mask}


def tokenize_dpo(tokenizer, record: dict, dialogue: Dialogue, where: str = "sample") -> dict:
    """`prompt_ids`, `chosen_ids` and `rejected_ids` for one preference pair."""
    prompt, tools = serving_view(record["prompt"], record.get("tools"), dialogue)
    prompt_text = render_conversation(tokenizer, prompt, tools, add_generation_prompt=True)
    out = {"prompt_ids": tokenizer(prompt_text, add_special_tokens=False)["input_ids"]}
    for side in ("chosen", "rejected"):
        full = render_conversation(tokenizer, prompt + record[side], tools)
        if not full.startswith(prompt_text):
            raise TrainingError(f"{where}: the rendered prompt is not a prefix of prompt + {side}; check the template.")
        completion = full[len(prompt_text):].rstrip()
        out[f"{side}_ids"] = tokenizer(completion, add_special_tokens=False)["input_ids"]
        if not out[f"{side}_ids"]:
            raise EmptyMaskError(f"{where}: the {side} answer renders to no tokens; give it content.")
    return out


def tokenizer_for(kind: str, tokenizer, dialogue: Dialogue):
    """`record -> token ids` for `data.load_samples`, in the format `dialogue` serves."""
    tokenize = tokenize_sft if kind == "sft" else tokenize_dpo
    return lambda record: tokenize(tokenizer, record, dialogue)
