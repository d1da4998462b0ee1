"""Text generation backends.

`LocalGenerator` runs a transformers model in-process; `OpenAIGenerator` (in
openai_backend.py) talks to any OpenAI-compatible server. Both take the conversation
as messages and yield text pieces; `stop()` lets the caller end a generation early.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator

from .chat_format import render_conversation
from .config import ModelConfig
from .models import load_chat_model


CACHE_BLOCK = 1024  # static KV cache sizes, in tokens
GROW_BLOCK = 256  # growing KV cache: room added at a time, in tokens


def cache_keyword(model) -> str:
    """The keyword a model and its generate() take a KV cache by: `cache` in transformers that
    renamed it (its forward names it), else `past_key_values`."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft passes kwargs on
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def growing_cache(config):
    """A DynamicCache whose layers write into preallocated room instead of concatenating.

    transformers' DynamicLayer copies its whole cache on every decode step (torch.cat);
    this one copies only the new tokens and hands attention a view.
    """
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        room: tuple | None = None

        def reserve(self, new_tokens: int, like: tuple | None = None) -> tuple:
            """`(key room, value room, start)` with room for `new_tokens` more at `start`; a new
            room is shaped like the `like` (keys, values) pair, by default the current room."""
            length = self.get_seq_length()
            end = length + new_tokens
            moved = self.room is not None and length and self.keys.data_ptr() != self.room[0].data_ptr()
            if self.room is None or moved or end > self.room[0].shape[-2]:  # moved: reordered or selected
                size = -(-(end + GROW_BLOCK) // GROW_BLOCK) * GROW_BLOCK
                room = tuple(t.new_empty((*t.shape[:-2], size, t.shape[-1])) for t in like or self.room)
                if length:
                    room[0][..., :length, :].copy_(self.keys)
                    room[1][..., :length, :].copy_(self.values)
                self.room = room
            return self.room[0], self.room[1], length

        def advance(self, end: int) -> None:
            """The cache now holds the first `end` tokens of its room."""
            self.keys, self.values = self.room[0][..., :end, :], self.room[1][..., :end, :]

        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
                self.room = None
            keys, values, start = self.reserve(key_states.shape[-2], (key_states, value_states))
            end = start + key_states.shape[-2]
            keys[..., start:end, :].copy_(key_states)
            values[..., start:end, :].copy_(value_states)
            self.advance(end)
            return self.keys, self.values

    cache = DynamicCache(config=config)
    cache.layers = [GrowingLayer() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    return cache


class _StopWhen:
    """A transformers StoppingCriteria that asks a callable whether to stop."""

    def __init__(self, should_stop: Callable[[], bool]):
        self.should_stop = should_stop

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.should_stop(), dtype=torch.bool, device=input_ids.device)


class _UnlikelyOpening:
    """A transformers LogitsProcessor: at the first generated position, rule out the tokens in
    `token_ids` that have less than `min_probability`, so that a greedy answer opens with them
    only when the model favours them over all other openings together."""

    def __init__(self, token_ids: list[int], min_probability: float, prompt_length: int):
        self.token_ids, self.min_probability, self.prompt_length = token_ids, min_probability, prompt_length

    def __call__(self, input_ids, scores):
        if input_ids.shape[-1] != self.prompt_length:
            return scores
        probabilities = scores.float().softmax(-1)
        for token in self.token_ids:
            unlikely = probabilities[:, token] < self.min_probability
            scores[unlikely, token] = float("-inf")
        return scores


class LocalGenerator:
    """Greedy streaming generation with transformers (optionally with a LoRA adapter)."""

    backend = "local"

    def __init__(self, model, tokenizer, adapter: str | None = None, name: str = "", prompt_lookup_tokens: int = 0,
                 static_cache: bool = False):
        self.model, self.tokenizer, self.adapter, self.name = model, tokenizer, adapter, name
        self.prompt_lookup_tokens = prompt_lookup_tokens
        self.static_cache = static_cache
        self.compact = any(type(m).__name__ == "CompactLinear" for m in model.modules())
        if self.compact:
            import torch

            self.threads = torch.get_num_threads()  # the process's setting, restored after each generation
        self._lock = threading.Lock()  # one generation at a time per model
        self._cache_keyword = cache_keyword(model)

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> "LocalGenerator":
        model, tokenizer, adapter = load_chat_model(cfg)
        return cls(model, tokenizer, adapter, cfg.base_model, cfg.prompt_lookup_tokens, cfg.static_cache)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def render(self, messages: list[dict], tools: list[dict] | None) -> str:
        return render_conversation(self.tokenizer, messages, tools, add_generation_prompt=True)

    def stream_messages(self, messages, tools, max_new_tokens: int, should_stop=None,
                        allow_tool_calls: bool = True, unlikely_opening: tuple[str, float] | None = None) -> Iterator[str]:
        return self.stream(self.render(messages, tools), max_new_tokens, should_stop, allow_tool_calls, unlikely_opening)

    def _tool_call_ban(self) -> dict:
        """Generation settings that keep the model from opening a `<tool_call>` (tool choice 'none')."""
        starts = [self.tokenizer(p + "<tool_call>", add_special_tokens=False)["input_ids"] for p in ("", " ")]
        return {
            "begin_suppress_tokens": sorted({ids[0] for ids in starts}),
            "bad_words_ids": [ids[:2] for ids in starts],
        }

    def _static_cache(self, length: int):
        """A fixed-size KV cache, so transformers compiles the decode step (GPU kernels launched as one graph).

        Its size is rounded up to a multiple of CACHE_BLOCK: prompts of similar length reuse the compiled step.
        """
        from transformers import StaticCache

        size = -(-length // CACHE_BLOCK) * CACHE_BLOCK
        return StaticCache(config=self.model.config, max_cache_len=size)

    def _generate_compact(self, kwargs: dict) -> None:
        """Generate with the prompt's forward pass on all OpenMP threads and each decode step's
        torch ops on one; the compact kernel splits a step's matmuls and attention over its own
        helper threads.

        Spread over OpenMP threads from a thread other than the main one, each of a decode
        step's many short parallel ops waits for sleeping workers (libgomp stops spinning once a
        process has more OpenMP threads than cores), which costs more than the second core
        saves. The kernel's helpers spin between the ops of a step instead.
        """
        import torch

        from .compact import MAX_ROWS

        threads = self.threads

        def pick_threads(module, args, kw):
            ids = kw.get("input_ids", args[0] if args else None)
            torch.set_num_threads(threads if ids is None or ids.shape[-1] > MAX_ROWS else 1)

        hook = self.model.register_forward_pre_hook(pick_threads, with_kwargs=True)
        try:
            self.model.generate(**kwargs, **{self._cache_keyword: growing_cache(self.model.config)})
        finally:
            hook.remove()
            torch.set_num_threads(threads)

    def stream(self, prompt: str, max_new_tokens: int, should_stop: Callable[[], bool] | None = None,
               allow_tool_calls: bool = True, unlikely_opening: tuple[str, float] | None = None) -> Iterator[str]:
        """Yield text pieces of the model's greedy continuation of `prompt`.

        `unlikely_opening` = (text, p): the continuation opens with the first token of `text`
        only when the model gives that token at least probability p.
        """
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList, TextIteratorStreamer

        inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.model.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            streamer=streamer,
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        )
        if not allow_tool_calls:
            kwargs.update(self._tool_call_ban())
        if unlikely_opening and unlikely_opening[0].strip() and unlikely_opening[1] > 0:
            text, min_probability = unlikely_opening
            first = self.tokenizer(text.strip(), add_special_tokens=False)["input_ids"][:1]
            kwargs["logits_processor"] = LogitsProcessorList(
                [_UnlikelyOpening(first, min_probability, inputs["input_ids"].shape[-1])]
            )
        if self.static_cache and self.model.device.type == "cuda":
            kwargs[self._cache_keyword] = self._static_cache(inputs["input_ids"].shape[1] + max_new_tokens)
        elif self.prompt_lookup_tokens > 0:
            # Drafts copied from the prompt are checked in one forward pass: the same greedy text, fewer passes.
            kwargs["prompt_lookup_num_tokens"] = self.prompt_lookup_tokens
        cancelled = threading.Event()  # set when the caller stops reading (e.g. a client disconnects)
        kwargs["stopping_criteria"] = StoppingCriteriaList(
            [_StopWhen(lambda: cancelled.is_set() or (should_stop is not None and should_stop()))]
        )
        errors: list[BaseException] = []

        def run():
            try:
                with torch.inference_mode():
                    if self.compact:
                        self._generate_compact(kwargs)
                    else:
                        self.model.generate(**kwargs)
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)
                streamer.end()

        with self._lock:
            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            try:
                yield from streamer
            finally:
                cancelled.set()  # an abandoned stream ends its generation before the lock is released
                thread.join()
        if errors:
            raise errors[0]
