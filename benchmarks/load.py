"""Load run: many concurrent `gradio_client` conversations against the app for a few minutes.

    python benchmarks/load.py [--clients 16] [--seconds 150] [--concurrency 4] [--max_new_tokens 48]
                              [--baseline_seconds 60] [--url http://127.0.0.1:7860/] [config flags, e.g. --index_dir DIR]
    python benchmarks/load.py --api openai     # the clients stream through /v1/chat/completions instead

Without --url the app is built in this process (demo knowledge base, configs/assistant.yaml)
with a fresh feedback database, so lost feedback rows can be counted. Each client asks
questions from data/eval/questions.jsonl (a follow-up in the same conversation every other
turn) and rates every answer. Printed: errors, feedback sent vs stored, latency p50/p95 and
answers per minute (with `--api openai`, also the time to the first streamed token, p50/p95;
the feedback goes through /feedback as well); then the baseline, the same assistant called directly one answer after
another, and the ratio of the two throughputs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def questions() -> list[str]:
    lines = (ROOT / "data" / "eval" / "questions.jsonl").read_text().splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.first_tokens: list[float] = []
        self.errors: list[str] = []
        self.feedback_stored = 0

    def add(self, latency=None, error=None, stored=False, first_token=None):
        with self.lock:
            if latency is not None:
                self.latencies.append(latency)
            if first_token is not None:
                self.first_tokens.append(first_token)
            if error:
                self.errors.append(error)
            self.feedback_stored += int(stored)


def client_loop(url: str, asked: list[str], deadline: float, tally: Tally) -> None:
    from gradio_client import Client

    try:  # the default 5 s connect/read timeout is too short for a busy 2-core machine
        client, conversation = Client(url, verbose=False, httpx_kwargs={"timeout": 120}), ""
    except Exception as exc:  # counted as an error of the run
        tally.add(error=f"connect: {type(exc).__name__}: {exc}")
        return
    for turn, question in enumerate(asked):
        if time.monotonic() >= deadline:
            return
        try:
            started = time.perf_counter()
            result = client.predict(question, conversation if turn % 2 else "", api_name="/chat")
            latency = time.perf_counter() - started
            if "error" in result:
                tally.add(error=f"/chat: {result['error']}")
                continue
            conversation = result["conversation_id"]
            rated = client.predict(result["answer_id"], "up" if turn % 3 else "down", "", api_name="/feedback")
            tally.add(latency=latency, stored=rated.get("stored", False),
                      error=None if rated.get("stored") else f"/feedback: {rated}")
        except Exception as exc:  # counted as an error of the run
            tally.add(error=f"{type(exc).__name__}: {exc}")


def openai_client_loop(url: str, asked: list[str], deadline: float, tally: Tally) -> None:
    """The same conversation pattern through the OpenAI-compatible endpoint, streamed; ratings through /feedback."""
    from gradio_client import Client
    from openai import OpenAI

    try:
        client = OpenAI(base_url=url.rstrip("/") + "/v1", api_key="none", timeout=300, max_retries=0)
        rater = Client(url, verbose=False, httpx_kwargs={"timeout": 120})
    except Exception as exc:  # counted as an error of the run
        tally.add(error=f"connect: {type(exc).__name__}: {exc}")
        return
    messages, conversation = [], ""
    for turn, question in enumerate(asked):
        if time.monotonic() >= deadline:
            return
        if turn % 2 == 0:
            messages, conversation = [], ""
        messages.append({"role": "user", "content": question})
        try:
            started, first, text, extra = time.perf_counter(), None, "", {}
            body = {"conversation_id": conversation} if conversation else None
            for chunk in client.chat.completions.create(model="deskmate", messages=messages, stream=True,
                                                        extra_body=body):
                if chunk.choices and chunk.choices[0].delta.content:
                    first = first if first is not None else time.perf_counter() - started
                    text += chunk.choices[0].delta.content
                extra = (chunk.model_extra or {}).get("deskmate", extra)
            latency = time.perf_counter() - started
            if not extra.get("answer_id"):
                tally.add(error=f"/v1/chat/completions: no final chunk ({text[:80]!r})")
                continue
            messages.append({"role": "assistant", "content": text})
            conversation = extra["conversation_id"]
            rated = rater.predict(extra["answer_id"], "up" if turn % 3 else "down", "", api_name="/feedback")
            tally.add(latency=latency, first_token=first, stored=rated.get("stored", False),
                      error=None if rated.get("stored") else f"/feedback: {rated}")
        except Exception as exc:  # counted as an error of the run
            tally.add(error=f"{type(exc).__name__}: {exc}")


def run_clients(url: str, clients: int, seconds: float, loop=client_loop) -> tuple[Tally, float]:
    pool = questions()
    tally, deadline, started = Tally(), time.monotonic() + seconds, time.perf_counter()
    threads = [
        threading.Thread(target=loop, args=(url, list(itertools.islice(itertools.cycle(pool), i * 7, i * 7 + 500)),
                                                   deadline, tally))
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally, time.perf_counter() - started


def direct_baseline(assistant, seconds: float) -> tuple[int, float, list[float]]:
    """Answers one after another with no app in front: what a single caller gets."""
    latencies, started = [], time.perf_counter()
    for question in itertools.cycle(questions()):
        if time.perf_counter() - started >= seconds:
            break
        t = time.perf_counter()
        assistant.answer([{"role": "user", "content": question}])
        latencies.append(time.perf_counter() - t)
    return len(latencies), time.perf_counter() - started, latencies


def build_local_app(args):
    from assistant.assistant import Assistant
    from assistant.config import load_config
    from assistant.feedback import FeedbackStore
    from retrieval.index import build_index
    from assistant.config import UIConfig
    from ui.app import build_app, serve

    cfg, _ = load_config(["--max_new_tokens", str(args.max_new_tokens), *args.config_flags])
    print(build_index(cfg.retrieval, progress=False))
    assistant = Assistant.from_config(cfg)
    store = FeedbackStore(Path(tempfile.mkdtemp()) / "feedback.sqlite3")
    app = build_app(assistant, feedback=store, settings=UIConfig(concurrency=args.concurrency))
    serve(app, server_name="127.0.0.1", quiet=True)
    return app, assistant, store


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=150, help="how long clients keep asking")
    parser.add_argument("--concurrency", type=int, default=4, help="queue concurrency of the in-process app")
    parser.add_argument("--max_new_tokens", type=int, default=48)
    parser.add_argument("--baseline_seconds", type=float, default=60)
    parser.add_argument("--url", default="", help="a running app instead of one built here")
    parser.add_argument("--api", choices=("gradio", "openai"), default="gradio",
                        help="gradio_client /chat, or streamed OpenAI-compatible /v1/chat/completions")
    args, args.config_flags = parser.parse_known_args(argv)

    app = assistant = store = None
    if not args.url:
        app, assistant, store = build_local_app(args)
    url = args.url or app.local_url
    try:
        tally, wall = run_clients(url, args.clients, args.seconds,
                                  openai_client_loop if args.api == "openai" else client_loop)
    finally:
        if app is not None:
            app.close()
    answers = len(tally.latencies)
    print(f"\n{args.clients} {args.api} clients for {args.seconds:.0f}s against {url} (concurrency {args.concurrency}, "
          f"max_new_tokens {args.max_new_tokens})")
    print(f"answers: {answers} in {wall:.0f}s = {answers / wall * 60:.1f} answers/min")
    print(f"latency per answer (queue wait included): p50 {percentile(tally.latencies, .5):.1f}s, "
          f"p95 {percentile(tally.latencies, .95):.1f}s")
    if tally.first_tokens:
        print(f"time to first streamed token: p50 {percentile(tally.first_tokens, .5):.1f}s, "
              f"p95 {percentile(tally.first_tokens, .95):.1f}s")
    print(f"errors: {len(tally.errors)}" + "".join(f"\n  {e}" for e in tally.errors[:10]))
    if store is not None:
        print(f"feedback: {tally.feedback_stored} confirmed, {store.count()} rows in the database, "
              f"{tally.feedback_stored - store.count()} lost")
    if assistant is not None and args.baseline_seconds > 0:
        n, seconds, latencies = direct_baseline(assistant, args.baseline_seconds)
        direct_rate = n / seconds * 60
        print(f"baseline, direct calls one at a time: {n} answers in {seconds:.0f}s = {direct_rate:.1f} answers/min, "
              f"p50 {percentile(latencies, .5):.1f}s")
        print(f"ratio, app under load / direct: {answers / wall * 60 / direct_rate:.2f}x answers per minute")
    lost = store is not None and tally.feedback_stored != store.count()
    return 1 if tally.errors or lost else 0


if __name__ == "__main__":
    sys.exit(main())
