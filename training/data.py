"""Read and check SFT dialogues and DPO preference pairs before any model loads.

Every bad line is reported with its file, line number and what is wrong (all of them,
not the first); exact duplicates and samples longer than `max_length` tokens are
reported too. Formats are in data/README.md:

    SFT: {"messages": [...], "tools": [...]?}
    DPO: {"prompt": [messages], "chosen": [messages], "rejected": [messages], "tools": [...]?}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DataValidationError, TrainingError

ROLES = ("system", "user", "assistant", "tool")
DEFAULT_TOOL_NAMES = ("search_knowledge_base",)


@dataclass
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Sample:
    path: str
    line: int
    record: dict
    tokens: dict | None = None  # token ids from `tokenize`, when lengths were checked


@dataclass
class DataReport:
    """What a set of data files holds: usable samples, errors (blocking) and warnings."""

    kind: str
    samples: list[Sample] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{len(self.samples)} {self.kind} samples, {len(self.errors)} errors, {len(self.warnings)} warnings"]
        lines += [f"error: {p}" for p in self.errors]
        lines += [f"warning: {p}" for p in self.warnings]
        return "\n".join(lines)

    def raise_on_errors(self, skip_invalid: bool) -> None:
        if self.errors and not skip_invalid:
            raise DataValidationError(
                f"{self.summary()}\nFix these lines, or pass --skip_invalid true to train without them."
            )
        if not self.samples:
            raise DataValidationError(f"No usable {self.kind} samples.\n{self.summary()}")


def data_files(paths: list[str]) -> list[Path]:
    """The JSONL files named by `paths` (a folder means every *.jsonl in it)."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files += sorted(path.glob("*.jsonl"))
        elif path.is_file():
            files.append(path)
        else:
            raise DataValidationError(f"No data file or folder {name!r}; give a .jsonl file or a folder of them.")
    if not files:
        raise DataValidationError(f"No .jsonl files in {', '.join(paths)}.")
    return files


def tool_names(record: dict) -> tuple[str, ...] | list[str]:
    tools = record.get("tools")
    if not isinstance(tools, list):
        return DEFAULT_TOOL_NAMES
    return [t.get("function", t).get("name") for t in tools if isinstance(t, dict)]


def check_tool_call(call, names) -> str | None:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        return 'a tool call needs {"type": "function", "function": {"name": ..., "arguments": {...}}}'
    if function["name"] not in names:
        return f"calls unknown tool {function['name']!r}; known: {', '.join(names)}"
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return "tool call arguments are not valid JSON"
    if not isinstance(arguments, dict):
        return "tool call arguments must be a JSON object"
    return None


def check_message(i: int, message, previous: str | None, names) -> list[str]:
    """What is wrong with message `i`, given the role before it."""
    if not isinstance(message, dict):
        return [f"message {i} is not an object"]
    role, content = message.get("role"), message.get("content")
    if role not in ROLES:
        return [f"message {i} has role {role!r}; use one of {', '.join(ROLES)}"]
    problems = []
    if content is not None and not isinstance(content, str):
        problems.append(f"message {i} ({role}) content must be a string")
    calls = message.get("tool_calls") or []
    if role == "system" and i != 0:
        problems.append(f"message {i} is a system message; only the first message may be one")
    if role == "tool" and previous not in ("assistant", "tool"):
        problems.append(f"message {i} is a tool result that follows no assistant tool call")
    if calls and role != "assistant":
        problems.append(f"message {i} ({role}) has tool_calls; only assistant messages may call tools")
    if not isinstance(calls, list):
        problems.append(f"message {i} tool_calls must be a list")
        calls = []
    for call in calls:
        problem = check_tool_call(call, names)
        if problem:
            problems.append(f"message {i} {problem}")
    if role in ("user", "assistant") and not (content or "").strip() and not calls:
        problems.append(f"message {i} ({role}) is empty")
    return problems


def check_messages(messages, what: str, names, must_end_with: tuple[str, ...]) -> list[str]:
    if not isinstance(messages, list) or not messages:
        return [f"{what!r} must be a non-empty list of messages"]
    problems, previous = [], None
    for i, message in enumerate(messages):
        problems += [f"{what}: {p}" for p in check_message(i, message, previous, names)]
        previous = message.get("role") if isinstance(message, dict) else None
    if previous not in must_end_with:
        problems.append(f"{what}: the last message is from {previous!r}; it must be from {' or '.join(must_end_with)}")
    return problems


def check_sft(record: dict) -> list[str]:
    names = tool_names(record)
    problems = check_messages(record.get("messages"), "messages", names, ("assistant",))
    if not problems and not any(m["role"] == "assistant" for m in record["messages"]):
        problems.append("messages: no assistant turn to learn from")
    return problems


def check_dpo(record: dict) -> list[str]:
    names = tool_names(record)
    problems = check_messages(record.get("prompt"), "prompt", names, ("user", "tool"))
    for side in ("chosen", "rejected"):
        problems += check_messages(record.get(side), side, names, ("assistant",))
        if isinstance(record.get(side), list) and any(
            isinstance(m, dict) and m.get("role") in ("system", "user") for m in record[side]
        ):
            problems.append(f"{side}: holds system or user messages; put them in 'prompt'")
    if not problems and record["chosen"] == record["rejected"]:
        problems.append("chosen and rejected are identical")
    return problems


CHECKS = {"sft": check_sft, "dpo": check_dpo}


def detect_kind(files: list[Path]) -> str:
    """'sft' or 'dpo', from the keys of the first line that parses."""
    for path in files:
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                return "dpo" if "chosen" in record else "sft"
    raise DataValidationError(f"Could not tell whether {files[0]} holds SFT dialogues or DPO pairs; pass --kind.")


def fingerprint(record: dict) -> str:
    keys = ("messages", "prompt", "chosen", "rejected", "tools")
    canonical = json.dumps({k: record.get(k) for k in keys}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def token_length(tokens: dict) -> int:
    """Tokens in a tokenized sample: the dialogue, or the prompt plus the longer answer of a pair."""
    if "input_ids" in tokens:
        return len(tokens["input_ids"])
    return len(tokens["prompt_ids"]) + max(len(tokens["chosen_ids"]), len(tokens["rejected_ids"]))


def load_samples(paths: list[str], kind: str, tokenize: Callable[[dict], dict] | None = None,
                 max_length: int | None = None) -> DataReport:
    """Read and check every line of the files; with `tokenize`, also check lengths against `max_length`."""
    report, seen = DataReport(kind), {}
    for path in data_files(paths):
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            problems, record = [], None
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems = [f"not valid JSON ({exc.msg} at column {exc.colno})"]
            if record is not None and not isinstance(record, dict):
                problems, record = ["a line must be a JSON object"], None
            if record is not None:
                problems = CHECKS[kind](record)
            report.errors += [Problem(str(path), number, p) for p in problems]
            if problems:
                continue
            key = fingerprint(record)
            if key in seen:
                report.warnings.append(Problem(str(path), number, f"duplicate of {seen[key]}; skipped"))
                continue
            seen[key] = f"{path}:{number}"
            tokens = None
            if tokenize and max_length:
                try:
                    tokens = tokenize(record)
                except TrainingError as exc:
                    report.errors.append(Problem(str(path), number, str(exc)))
                    continue
                if token_length(tokens) > max_length:
                    report.errors.append(Problem(
                        str(path), number,
                        f"{token_length(tokens)} tokens, over max_length {max_length}; shorten it or raise --max_length",
                    ))
                    continue
            report.samples.append(Sample(str(path), number, record, tokens))
    return report


def file_hashes(paths: list[str]) -> dict[str, str]:
    """sha256 of every data file, for the run manifest."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in data_files(paths)}
