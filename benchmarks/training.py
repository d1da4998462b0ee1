"""SFT throughput and peak memory: our trainer against plain trl SFTTrainer defaults, side by side.

    python benchmarks/training.py [--samples 16] [--max_length 1536] [--threads 0] [--lora_layers 10]
    python benchmarks/training.py --device cuda --load_in_4bit --samples 256 --batch_size 8   # QLoRA on a GPU

Both runs get the same dialogues, tokenized the same way (serving format, assistant-only
labels), the same model and LoRA, each in its own process so peak memory is its own. The
baseline is what a user gets from trl's defaults: padded batches of 8, no packing,
gradient checkpointing on, LoRA on every layer, float32 on the CPU. Ours: `training.sft`'s
settings (padding-free; on the CPU whole samples per step, on a GPU packed rows; no
recomputation; LoRA on the top `--lora_layers` layers as in configs/sft.yaml, 0 for all;
bf16 mixed precision where the hardware has it; on the CPU the LM head scores only the
labelled positions). Tokens per second
count real (non-padding) tokens over the training time. On a GPU, `--load_in_4bit` loads both
bases in 4-bit NF4 (QLoRA) and peak GPU memory (torch's allocator) is reported too.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # import the project's packages, not benchmarks/ files of the same names


def load_rows(args, tokenizer) -> list[dict]:
    from training.data import load_samples
    from training.formatting import tokenizer_for
    from training.validate import served_dialogue

    report = load_samples([str(ROOT / "data" / "sft")], "sft", tokenizer_for("sft", tokenizer, served_dialogue()),
                          args.max_length)
    samples = report.samples
    random.Random(0).shuffle(samples)
    return [s.tokens for s in samples[: args.samples]]


def worker(args) -> dict:
    """Train one epoch over the rows with one setup; return tokens, seconds and peak memory."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from assistant.models import resolve_base_model
    from training.config import SFTRunConfig
    from training.modeling import configure_threads, load_base, load_tokenizer, lora_config, score_labelled_positions_on_cpu
    from training.sft import sft_settings

    cfg = SFTRunConfig(device=args.device, load_in_4bit="true" if args.load_in_4bit else "false",
                       max_length=args.max_length, threads=args.threads, base_model=args.base_model)
    cuda = args.device.startswith("cuda")
    threads = configure_threads(cfg)
    path = resolve_base_model(cfg.base_model)
    tokenizer = load_tokenizer(path)
    rows = load_rows(args, tokenizer)
    common = dict(num_train_epochs=1, report_to="none", disable_tqdm=True, save_strategy="no", use_cpu=not cuda,
                  bf16=cuda, learning_rate=2e-4, logging_steps=1000, max_length=args.max_length, seed=0)
    if args.worker == "baseline":  # trl defaults: batch 8, padded, gradient checkpointing
        settings = SFTConfig(output_dir=tempfile.mkdtemp(), **common)
    else:  # ours: the settings training.sft uses with configs/sft.yaml's batch size
        cfg.batch_size, cfg.learning_rate, cfg.progress, cfg.save_steps = args.batch_size, 2e-4, False, 10**6
        settings = sft_settings(cfg, tempfile.mkdtemp(), has_eval=False)
    if args.worker == "ours":
        cfg.lora_layers = args.lora_layers
        score_labelled_positions_on_cpu()
    model = load_base(cfg, path)
    trainer = SFTTrainer(model=model, args=settings, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer, peft_config=lora_config(cfg, model))
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    return {
        "setup": args.worker,
        "samples": len(rows),
        "tokens": sum(len(r["input_ids"]) for r in rows),
        "steps": trainer.state.global_step,
        "seconds": round(seconds, 1),
        "tokens_per_s": round(sum(len(r["input_ids"]) for r in rows) / seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20) if cuda else None,
        "bf16": settings.bf16,
        "threads": threads,
        "torch": torch.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16, help="dialogues from data/sft (seeded choice)")
    parser.add_argument("--max_length", type=int, default=1536, help="longest dialogue kept, in tokens")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for both runs (0: all cores)")
    parser.add_argument("--lora_layers", type=int, default=10, help="ours: adapt the top N layers (0: all)")
    parser.add_argument("--batch_size", type=int, default=1, help="ours: rows per step (configs/sft.yaml: 1)")
    parser.add_argument("--device", default="cpu", help="'cpu' or 'cuda' (both runs)")
    parser.add_argument("--load_in_4bit", action="store_true", help="both runs on a 4-bit NF4 base (QLoRA)")
    parser.add_argument("--base_model", default="bundled:SmolLM2-135M-Instruct", help="model id or path (both runs)")
    parser.add_argument("--worker", choices=("baseline", "ours"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    if not args.threads:  # both runs get the same thread count, decided once
        import os

        args.threads = os.cpu_count() or 1
    results = {}
    for setup in ("baseline", "ours"):
        command = [sys.executable, __file__, "--worker", setup, "--samples", str(args.samples),
                   "--max_length", str(args.max_length), "--threads", str(args.threads),
                   "--lora_layers", str(args.lora_layers), "--batch_size", str(args.batch_size),
                   "--device", args.device, "--base_model", args.base_model]
        command += ["--load_in_4bit"] if args.load_in_4bit else []
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if out.returncode:
            sys.exit(f"{setup} run failed:\n{out.stderr[-3000:]}")
        results[setup] = json.loads(out.stdout.strip().splitlines()[-1])
    memory = "peak_gpu_mb" if args.device.startswith("cuda") else "peak_rss_mb"
    print(f"base model {args.base_model}, device {args.device}, 4-bit {args.load_in_4bit}")
    print(f"{'setup':10} {'samples':>7} {'tokens':>7} {'steps':>5} {'seconds':>8} {'tok/s':>7} {memory:>12}")
    for r in results.values():
        print(f"{r['setup']:10} {r['samples']:>7} {r['tokens']:>7} {r['steps']:>5} {r['seconds']:>8} "
              f"{r['tokens_per_s']:>7} {r[memory]:>12}")
    base, ours = results["baseline"], results["ours"]
    print(f"throughput ratio (ours / trl defaults): {ours['tokens_per_s'] / base['tokens_per_s']:.2f}x; "
          f"{memory} ratio: {ours[memory] / base[memory]:.2f}x; threads {args.threads}, "
          f"ours with lora_layers {args.lora_layers}, batch_size {args.batch_size}; bf16 baseline {base['bf16']}, "
          f"ours {ours['bf16']}")


if __name__ == "__main__":
    main()
