"""Decode speed of the local backend against plain `model.generate()`, side by side.

    python -m benchmarks.generation [--adapter latest] [--new_tokens 96] [--repeats 3] [--device cpu]
    python -m benchmarks.generation --save_prompt prompt.txt          # keep the rendered prompt
    python -m benchmarks.generation --prompt_file prompt.txt --device cuda   # on a machine with no index

Ours is the served `LocalGenerator` with its defaults (on the CPU: compact 4/8-bit
weights and prompt lookup decoding; on a GPU: a static KV cache, compiled). The baseline
is plain `model.generate()` on the model as transformers loads it, run two ways: streamed
from a thread (transformers' TextIteratorStreamer recipe, as a server streams) and called
in the main thread without a streamer; the ratio is against the faster of the two. All
run greedy on the same prompt (a customer question with four retrieved passages, rendered
exactly as the assistant serves it) in one process, alternating, and must produce the
same text. Prints time to first token, decode tokens per second and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from dataclasses import replace
from pathlib import Path

import torch
from transformers import TextIteratorStreamer

from assistant.config import ModelConfig
from assistant.generation import LocalGenerator
from assistant.models import load_chat_model

QUESTION = "How long do I have to send back headphones I bought in the UK, and does the label cost anything?"


def render_after_search(tokenizer, question: str, passages, dialogue=None) -> str:
    """The prompt the model answers from after one search for `question`, rendered as the assistant serves it
    (`dialogue`: the served one, configs/assistant.yaml's by default)."""
    from assistant.chat_format import render_conversation
    from assistant.config import load_config
    from assistant.dialogue import Dialogue

    dialogue = dialogue or Dialogue.from_config(load_config([])[0])
    return render_conversation(tokenizer, dialogue.after_search(question, passages), dialogue.tools(),
                               add_generation_prompt=True)


def build_prompt(tokenizer, index_dir: str) -> str:
    """The question with its four retrieved passages, rendered as the assistant serves it."""
    from retrieval.config import RetrievalConfig
    from retrieval.index import ensure_index
    from retrieval.search import Searcher

    cfg = RetrievalConfig(index_dir=index_dir, top_k=4)
    ensure_index(cfg)
    return render_after_search(tokenizer, QUESTION, Searcher(cfg).search(QUESTION, 4))


def timed(stream_fn, count_tokens) -> tuple[str, float, float]:
    """Run a streaming generation; return its text, time to first token and decode tokens/s."""
    start = time.perf_counter()
    first, pieces = None, []
    for piece in stream_fn():
        first = first or time.perf_counter()
        pieces.append(piece)
    end = time.perf_counter()
    text = "".join(pieces)
    decoded = max(count_tokens(text) - 1, 1)
    return text, (first or end) - start, decoded / max(end - (first or end), 1e-9)


def plain_generate(model, tokenizer, prompt: str, new_tokens: int):
    """What a user would write: model.generate with default settings, greedy."""
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)

    def run():
        with torch.no_grad():
            model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False, streamer=streamer)

    def stream():
        thread = threading.Thread(target=run)
        thread.start()
        yield from streamer
        thread.join()

    return stream


def plain_generate_here(model, tokenizer, prompt: str, new_tokens: int):
    """model.generate called in this (the main) thread, without a streamer: the first token is timed
    by a one-token call, the rest by the full call. Its text arrives in one piece at the end."""
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    start = inputs["input_ids"].shape[1]

    def stream():
        with torch.no_grad():
            began = time.perf_counter()
            model.generate(**inputs, max_new_tokens=1, do_sample=False)
            first = time.perf_counter() - began
            began = time.perf_counter()
            out = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False)
            total = time.perf_counter() - began
        text = tokenizer.decode(out[0, start:], skip_special_tokens=True)
        return text, first, (out.shape[1] - start - 1) / max(total - first, 1e-9)

    return stream


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", default="")
    parser.add_argument("--new_tokens", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--index_dir", default="")
    parser.add_argument("--device", default="cpu", help="'cpu', 'cuda' or 'auto'")
    parser.add_argument("--base_model", default=ModelConfig.base_model, help="model id or path")
    parser.add_argument("--prompt_file", default="", help="use this rendered prompt instead of searching the index")
    parser.add_argument("--save_prompt", default="", help="write the rendered prompt to this file")
    args = parser.parse_args(argv)

    cfg = ModelConfig(base_model=args.base_model, adapter=args.adapter, device=args.device)
    ours = LocalGenerator.from_config(cfg)
    plain_model, _, _ = load_chat_model(replace(cfg, compact_decoding=False))  # the model as transformers loads it
    if args.prompt_file:
        prompt = Path(args.prompt_file).read_text(encoding="utf-8")
    else:
        prompt = build_prompt(ours.tokenizer, args.index_dir)
    if args.save_prompt:
        Path(args.save_prompt).write_text(prompt, encoding="utf-8")
    print(f"prompt: {ours.count_tokens(prompt)} tokens, {args.new_tokens} new tokens, greedy, "
          f"device {ours.model.device}, {ours.model.dtype}")
    streamed, here = "plain generate", "plain generate, main thread"
    runs: dict[str, list[tuple[str, float, float]]] = {streamed: [], here: [], "ours": []}
    for _ in range(args.repeats):
        for name, rows in runs.items():
            if name == "ours":
                rows.append(timed(lambda: ours.stream(prompt, args.new_tokens), ours.count_tokens))
            elif name == streamed:
                rows.append(timed(plain_generate(plain_model, ours.tokenizer, prompt, args.new_tokens), ours.count_tokens))
            else:
                rows.append(plain_generate_here(plain_model, ours.tokenizer, prompt, args.new_tokens)())
    texts = {rows[-1][0].strip() for rows in runs.values()}
    print(f"same output text: {len(texts) == 1}")
    speed = {}
    for name, rows in runs.items():
        speed[name] = statistics.median(r[2] for r in rows)
        ttft = statistics.median(r[1] for r in rows)
        print(f"{name:28s} time to first token {ttft:.2f}s   decode {speed[name]:.1f} tokens/s")
    baseline = max(speed[streamed], speed[here])
    print(f"decode speed ratio (ours / faster plain): {speed['ours'] / baseline:.2f}x")


if __name__ == "__main__":
    main()
