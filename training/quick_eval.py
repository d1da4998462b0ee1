"""A quick before/after check of an adapter against the base model on evaluation questions.

    python -m training.quick_eval [--adapter latest] [--questions data/eval/questions.jsonl] [--limit 12]

For each model it measures, on the first `--limit` questions (answerable and not, in file order):
- tool-call validity: asked the question with the search tool listed, the model's first
  reply is a well-formed `search_knowledge_base` call with a non-empty query;
- citation rate: answerable questions whose generated answer (before citation repair)
  cites a retrieved passage as [n];
- refusal accuracy: the answer says "I don't know" / offers a person exactly when the
  question is unanswerable.
A stop-gap until the evaluation command; greedy decoding, the serving chat loop.
"""

from __future__ import annotations

import argparse
import json
import re

from assistant.chat_format import parse_tool_calls, render_conversation
from assistant.config import AppConfig, ChatConfig, ModelConfig, UIConfig
from assistant.prompts import system_prompt
from retrieval.config import RetrievalConfig
from retrieval.tool import TOOL_NAME

REFUSAL_RE = re.compile(r"don'?t know|do not know|not sure|connect you|a person|human|support team", re.I)
CITE_RE = re.compile(r"\[(\d{1,2})\]")


def pick_questions(path: str, limit: int) -> list[dict]:
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    unanswerable = [r for r in rows if r.get("answerable") is False]
    answerable = [r for r in rows if r.get("answerable") is not False]
    n_unanswerable = max(1, limit // 4)
    return answerable[: limit - n_unanswerable] + unanswerable[:n_unanswerable]


def tool_call_valid(generator, question: str, tools: list[dict]) -> bool:
    messages = [{"role": "system", "content": system_prompt(ChatConfig())}, {"role": "user", "content": question}]
    prompt = render_conversation(generator.tokenizer, messages, tools, add_generation_prompt=True)
    calls = parse_tool_calls("".join(generator.stream(prompt, 48)))
    return bool(calls) and calls[0]["name"] == TOOL_NAME and bool(str(calls[0]["arguments"].get("query", "")).strip())


def score(assistant, questions: list[dict]) -> dict:
    valid = cited = answerable = refusal_ok = 0
    for q in questions:
        valid += tool_call_valid(assistant.generator, q["question"], assistant.tools)
        events = list(assistant.stream([{"role": "user", "content": q["question"]}]))
        raw = "".join(e.data for e in events if e.type == "delta")
        passages = next(e.data for e in events if e.type == "tool_result")
        refused = bool(REFUSAL_RE.search(raw))
        should_refuse = q.get("answerable") is False
        refusal_ok += refused == should_refuse
        if not should_refuse:
            answerable += 1
            cited += any(1 <= int(n) <= len(passages) for n in CITE_RE.findall(raw))
    n = len(questions)
    return {"tool_call_validity": valid / n, "citation_rate": cited / max(1, answerable),
            "refusal_accuracy": refusal_ok / n, "questions": n}


def main(argv=None) -> None:
    from assistant.assistant import Assistant
    from assistant.generation import LocalGenerator
    from retrieval.index import build_index
    from retrieval.search import Searcher

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", default="latest", help="registry name or folder of the tuned adapter")
    parser.add_argument("--adapters_dir", default="adapters")
    parser.add_argument("--questions", default="data/eval/questions.jsonl")
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--max_new_tokens", type=int, default=96)
    args = parser.parse_args(argv)
    retrieval = RetrievalConfig()
    searcher = Searcher(retrieval)
    if searcher.count() == 0:
        build_index(retrieval, progress=False)
        searcher = Searcher(retrieval)
    questions = pick_questions(args.questions, args.limit)
    chat = ChatConfig(max_new_tokens=args.max_new_tokens)
    results = {}
    for label, adapter in (("base", ""), (f"adapter {args.adapter}", args.adapter)):
        model = ModelConfig(adapter=adapter, adapters_dir=args.adapters_dir, device="cpu")
        cfg = AppConfig(retrieval=retrieval, model=model, chat=chat, ui=UIConfig())
        results[label] = score(Assistant(LocalGenerator.from_config(model), searcher, cfg), questions)
    print(f"{'model':24} {'tool-call validity':>18} {'citation rate':>13} {'refusal accuracy':>16}  (n={len(questions)})")
    for label, r in results.items():
        print(f"{label:24} {r['tool_call_validity']:>18.2f} {r['citation_rate']:>13.2f} {r['refusal_accuracy']:>16.2f}")


if __name__ == "__main__":
    main()
