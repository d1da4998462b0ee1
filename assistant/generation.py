"""Text generation backends. `LocalGenerator` runs a transformers model in-process."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from .config import ModelConfig
from .models import load_chat_model


class LocalGenerator:
    """Greedy streaming generation with transformers (optionally with a LoRA adapter)."""

    def __init__(self, model, tokenizer, adapter: str | None = None, name: str = ""):
        self.model, self.tokenizer, self.adapter, self.name = model, tokenizer, adapter, name
        self._lock = threading.Lock()  # one generation at a time per model

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> "LocalGenerator":
        model, tokenizer, adapter = load_chat_model(cfg)
        return cls(model, tokenizer, adapter, cfg.base_model)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def stream(self, prompt: str, max_new_tokens: int) -> Iterator[str]:
        """Yield text pieces of the model's continuation of `prompt`."""
        import torch
        from transformers import TextIteratorStreamer

        inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.model.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            streamer=streamer,
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        )
        errors: list[BaseException] = []

        def run():
            try:
                with torch.inference_mode():
                    self.model.generate(**kwargs)
            except BaseException as exc:  # surfaced in the caller's thread below
                errors.append(exc)
                streamer.end()

        with self._lock:
            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            yield from streamer
            thread.join()
        if errors:
            raise errors[0]
