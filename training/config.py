"""Settings of the SFT and DPO runs: one dataclass per script, whose field help is the CLI.

    python -m training.sft --config configs/sft.yaml --learning_rate 1e-4 --run_name my-run

`--config` defaults to configs/sft.yaml (configs/dpo.yaml for DPO) when it exists;
flags override the file. All cross-field checks live in `check()`.

The served dialogue the adapter learns (system prompt with the company's identity and tone,
the search tool) comes from the assistant's own settings, `--assistant_config`
(configs/assistant.yaml), so training sees what serving serves; chat flags such as
`--company_name "Acme Bikes"` override that file here as they do when serving.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from assistant.config import BUNDLED_CHAT_MODEL

from .errors import TrainingError


@dataclass
class RunConfig:
    base_model: str = field(
        default=BUNDLED_CHAT_MODEL,
        metadata={"help": "Base chat model: 'bundled:SmolLM2-135M-Instruct', a Hugging Face id or a local path."},
    )
    eval_data: list[str] = field(
        default_factory=list, metadata={"help": "Evaluation files or folders; empty: split off --eval_fraction."}
    )
    eval_fraction: float = field(default=0.1, metadata={"help": "Share of the data held out for evaluation."})
    max_examples: int = field(default=0, metadata={"help": "Train on at most this many samples (0: all)."})
    skip_invalid: bool = field(default=False, metadata={"help": "Train without the bad lines instead of stopping."})
    adapters_dir: str = field(default="adapters", metadata={"help": "Where runs and registry.json are written."})
    run_name: str = field(default="", metadata={"help": "Name of the run folder (default: <stage>-<time>)."})
    resume: bool = field(
        default=False, metadata={"help": "Continue an interrupted run (--run_name, or the newest unfinished one)."}
    )
    promotion: str = field(
        default="evaluate",
        metadata={"help": "When the run becomes 'latest': 'evaluate' (only if not worse than the served adapter on "
                          "--eval_questions; the first adapter always), 'always', or 'never' (alias 'candidate')."},
    )
    assistant_config: str = field(
        default="configs/assistant.yaml",
        metadata={"help": "The assistant's settings (identity, tone, search): the adapter is trained on the dialogue "
                          "they serve, and the promotion evaluation runs with them."},
    )
    eval_kb: str = field(default="data/kb", metadata={"help": "Knowledge base of the promotion evaluation."})
    eval_questions: str = field(
        default="data/eval/questions.jsonl", metadata={"help": "Questions of the promotion evaluation."}
    )
    promotion_limit: int = field(default=40, metadata={"help": "Questions the promotion evaluation asks (0: all)."})
    promotion_tolerance: float = field(
        default=0.02, metadata={"help": "Largest drop of a main metric that still allows promotion."}
    )
    merge: bool = field(default=False, metadata={"help": "Also write <run>/merged: the base with the adapter merged."})
    load_in_4bit: str = field(
        default="auto", metadata={"help": "4-bit NF4 base (QLoRA): 'auto' (on with a GPU), 'true' or 'false'."}
    )
    device: str = field(default="auto", metadata={"help": "'auto', 'cpu', 'cuda' or 'cuda:N'."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (scale = alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    lora_layers: int = field(
        default=0,
        metadata={"help": "Adapt only the top N transformer layers (0: all). Backpropagation then stops there, "
                          "so a CPU step is cheaper."},
    )
    lora_target_modules: str = field(
        default="all-linear", metadata={"help": "Modules to adapt: 'all-linear' or a comma-separated list."}
    )
    epochs: float = field(default=1.0, metadata={"help": "Passes over the training data."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many optimizer steps (-1: use --epochs)."})
    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate."})
    batch_size: int = field(default=8, metadata={"help": "Samples (or packed rows) per device step."})
    grad_accum: int = field(default=1, metadata={"help": "Steps accumulated per optimizer update."})
    max_length: int = field(default=1024, metadata={"help": "Longest sample in tokens; longer ones are reported."})
    warmup_ratio: float = field(default=0.05, metadata={"help": "Share of steps spent warming up the learning rate."})
    lr_scheduler: str = field(default="cosine", metadata={"help": "Learning-rate schedule (transformers name)."})
    gradient_checkpointing: str = field(
        default="auto",
        metadata={"help": "Recompute activations to save memory: 'auto' (on with a GPU, where memory is the "
                          "limit; off on the CPU, where it only costs time), 'true' or 'false'."},
    )
    bf16: str = field(
        default="auto",
        metadata={"help": "bf16 mixed precision: 'auto' (on with a GPU that has it, or a CPU with native bf16 "
                          "instructions, AVX512-BF16 or AMX, where it about halves a step), 'true' or 'false'."},
    )
    logging_steps: int = field(default=5, metadata={"help": "Steps between loss log lines."})
    eval_steps: int = field(default=0, metadata={"help": "Steps between evaluations (0: at the end of each epoch)."})
    save_steps: int = field(default=50, metadata={"help": "Steps between checkpoints."})
    keep_checkpoints: bool = field(default=False, metadata={"help": "Keep checkpoints after a successful run."})
    max_minutes: float = field(
        default=0, metadata={"help": "Stop training (and save) after this many minutes (0: no limit)."}
    )
    max_eval_examples: int = field(default=0, metadata={"help": "Evaluate on at most this many samples (0: all)."})
    threads: int = field(
        default=0, metadata={"help": "CPU threads for torch (0: all cores; fewer when other heavy work shares the CPU)."}
    )
    seed: int = field(default=42, metadata={"help": "Random seed (data split, LoRA init, shuffling)."})
    progress: bool = field(default=True, metadata={"help": "Show progress bars."})

    stage = "run"

    def served_dialogue(self):
        """The served dialogue the run trains on: `--assistant_config` with any chat flags (`parse_run_config`)."""
        if getattr(self, "_dialogue", None) is None:
            from assistant.dialogue import Dialogue

            self._dialogue = Dialogue.from_config(assistant_settings(self.assistant_config))
        return self._dialogue

    def check(self) -> None:
        """Every cross-field rule, with messages that say how to fix the setting."""
        if self.promotion not in ("evaluate", "always", "never"):
            raise TrainingError(f"--promotion is {self.promotion!r}; use evaluate, always or never.")
        for name in ("load_in_4bit", "packing", "gradient_checkpointing", "bf16"):
            if getattr(self, name, "auto") not in ("auto", "true", "false"):
                raise TrainingError(f"--{name} is {getattr(self, name)!r}; use auto, true or false.")
        if not 0 <= self.eval_fraction < 1:
            raise TrainingError(f"--eval_fraction is {self.eval_fraction}; use a share in [0, 1), e.g. 0.1.")
        if self.max_length < 64:
            raise TrainingError(f"--max_length {self.max_length} is too short for the system prompt; use >= 64.")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise TrainingError("Set --epochs above 0 or --max_steps above 0.")
        if self.batch_size < 1 or self.grad_accum < 1:
            raise TrainingError("--batch_size and --grad_accum must be at least 1.")
        if self.run_name and (Path(self.run_name).name != self.run_name or self.run_name == "registry.json"):
            raise TrainingError(f"--run_name {self.run_name!r} must be a plain folder name.")


@dataclass
class SFTRunConfig(RunConfig):
    data: list[str] = field(default_factory=lambda: ["data/sft"], metadata={"help": "SFT .jsonl files or folders."})
    packing: str = field(
        default="auto",
        metadata={"help": "'true': pack samples into padding-free rows of --max_length tokens (GPU); 'false': "
                          "padding-free batches of whole samples (CPU: no attention across samples); 'auto'."},
    )

    stage = "sft"


@dataclass
class DPORunConfig(RunConfig):
    data: list[str] = field(
        default_factory=lambda: ["data/dpo"],
        metadata={"help": "DPO .jsonl files or folders; the word 'feedback': pairs exported now from the feedback "
                          "database (python -m training.preferences)."},
    )
    feedback_db: str = field(
        default="", metadata={"help": "Feedback database read by --data feedback (default: the web app's)."}
    )
    sft_adapter: str = field(
        default="latest-sft",
        metadata={"help": "Adapter to start from: a registry name ('latest-sft', a run) or a folder; empty: the base."},
    )
    beta: float = field(default=0.1, metadata={"help": "DPO beta: how far the policy may move from the reference."})
    dpo_loss: str = field(default="sigmoid", metadata={"help": "trl DPO loss type ('sigmoid', 'ipo', ...)."})

    stage = "dpo"

    def check(self) -> None:
        super().check()
        if self.feedback_db and "feedback" not in self.data:
            raise TrainingError("--feedback_db is read only with --data feedback; add that, or drop --feedback_db.")


def parse_run_config(cls, default_file: str, args=None):
    """Parse `--config FILE.yaml` plus flag overrides into `cls`; `--help` lists every field.

    The chat settings start from `--assistant_config` and take chat flags on top; the result is
    `cfg.served_dialogue()`, the served dialogue the run trains on."""
    import sys
    from dataclasses import asdict

    from assistant.config import ChatConfig
    from assistant.dialogue import Dialogue
    from retrieval.config import parse_config

    args = list(sys.argv[1:] if args is None else args)
    app = assistant_settings(_flag(args, "--assistant_config", cls.assistant_config))
    cfg, chat = parse_config([cls, ChatConfig], args, file_sections=[cls, ChatConfig], default_file=default_file,
                             defaults=asdict(app.chat))
    cfg.check()
    cfg._dialogue = Dialogue(chat, app.retrieval.top_k)
    return cfg


def assistant_settings(path: str):
    """The `AppConfig` of the assistant's YAML file (the defaults when the default file is absent)."""
    from assistant.config import load_config

    if Path(path).exists():
        return load_config(["--config", path])[0]
    if path != RunConfig.assistant_config:
        raise TrainingError(f"--assistant_config {path} does not exist; give the assistant's YAML file.")
    return load_config([])[0]


def _flag(args: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default
