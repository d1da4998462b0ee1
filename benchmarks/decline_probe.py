"""Does a model decline because of the passages? Its probability of declining, by kind of prompt.

    python -m benchmarks.decline_probe [--adapter base latest] [--questions data/eval/questions.jsonl] [--limit 0]

For every question the real search runs on the customer's words (`top_k` passages, no
relevance floor, so every prompt holds passages) and the prompt is rendered as the
assistant serves it after that search. The score of a prompt is the model's probability
of opening its answer with the served decline ("I don't know that from our help
center"), from one forward pass. Three kinds of prompt:

- answerable: an answerable question with its passages (the model should answer);
- unanswerable: a question the help center does not answer (it should decline);
- support removed: an answerable question whose passages from its support document,
  or holding its support text, were replaced by the next search results (it should
  decline: the passages no longer answer).

Per model it prints the AUC of unanswerable vs answerable and of support removed vs
answerable (0.5: the choice to decline does not depend on what the passages say), and
each kind's mean probability and share above 0.5. It is a cheap check of whether
training taught *when* to decline, beside `assistant.evaluate`, which runs the whole
assistant.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # import the project's packages, not benchmarks/ files of the same names

EXTRA_RESULTS = 8


def auc(positive: list[float], negative: list[float]) -> float | None:
    """The chance that a random positive scores above a random negative (ties count half)."""
    if not positive or not negative:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return wins / (len(positive) * len(negative))


def prompts(questions: list[dict], searcher, k: int) -> list[tuple[str, str, list]]:
    """(kind, question, passages) for every prompt the probe scores."""
    from assistant.metrics import is_answerable, supports

    out = []
    for q in questions:
        found = searcher.search(q["question"], k + EXTRA_RESULTS)
        if not is_answerable(q):
            out.append(("unanswerable", q["question"], found[:k]))
            continue
        out.append(("answerable", q["question"], found[:k]))
        others = [p for p in found if not supports(p.to_dict(), q)]
        if len(others) >= k and len(others) < len(found):
            out.append(("support removed", q["question"], others[:k]))
    return out


def decline_logprob(model, tokenizer, prompt: str, opening: list[int]) -> float:
    """log P(the answer opens with `opening` | prompt)."""
    import torch

    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = model(torch.tensor([ids + opening], device=model.device)).logits[0, len(ids) - 1 : -1]
    logprobs = logits.float().log_softmax(-1)
    return float(sum(logprobs[i, token] for i, token in enumerate(opening)))


def probe(name: str, cfg, items: list[tuple[str, str, list]]) -> dict:
    from assistant.dialogue import Dialogue
    from assistant.models import load_chat_model
    from benchmarks.generation import render_after_search

    model_cfg = replace(cfg.model, adapter="" if name == "base" else name, compact_decoding=False)  # one plain pass
    model, tokenizer, _ = load_chat_model(model_cfg)
    opening = tokenizer(cfg.chat.no_evidence_message.split(".")[0], add_special_tokens=False)["input_ids"]
    scores: dict[str, list[float]] = {}
    for kind, question, passages in items:
        prompt = render_after_search(tokenizer, question, passages, Dialogue.from_config(cfg))
        scores.setdefault(kind, []).append(math.exp(decline_logprob(model, tokenizer, prompt, opening)))
    answerable = scores.get("answerable", [])
    return {
        "model": name,
        "auc_unanswerable": auc(scores.get("unanswerable", []), answerable),
        "auc_support_removed": auc(scores.get("support removed", []), answerable),
        "kinds": {kind: {"prompts": len(v), "mean_p": sum(v) / len(v), "above_half": sum(p > 0.5 for p in v) / len(v)}
                  for kind, v in scores.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", nargs="+", default=["base", "latest"], help="'base', registry names or folders")
    parser.add_argument("--questions", default="data/eval/questions.jsonl", help="questions JSONL (data/eval format)")
    parser.add_argument("--limit", type=int, default=0, help="the first N questions only (0: all)")
    parser.add_argument("--report", default="", help="also write the figures to this JSON file")
    args, rest = parser.parse_known_args()

    from assistant.config import load_config
    from retrieval.index import ensure_index
    from retrieval.search import Searcher

    cfg, _ = load_config(rest)
    ensure_index(cfg.retrieval)
    searcher = Searcher(replace(cfg.retrieval, min_score=0.0, min_passage_score=0.0))
    lines = Path(args.questions).read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line) for line in lines if line.strip()][: args.limit or None]
    items = prompts(questions, searcher, cfg.retrieval.top_k)
    results = [probe(name, cfg, items) for name in args.adapter]
    print(f"{len(questions)} questions from {args.questions}; P = probability of opening with the served decline")
    for r in results:
        print(f"{r['model']}: AUC unanswerable vs answerable {r['auc_unanswerable']:.3f}, "
              f"support removed vs answerable {r['auc_support_removed']:.3f}")
        for kind, k in r["kinds"].items():
            print(f"  {kind:16} {k['prompts']:4} prompts  mean P {k['mean_p']:.3f}  P > 0.5: {k['above_half']:.2f}")
    if args.report:
        Path(args.report).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
