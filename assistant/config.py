"""Typed settings for the model, the chat loop and the UI, read from one YAML file.

Every entry point calls `load_config()`: `--config configs/assistant.yaml` (the default
when present) with command-line flags overriding it, e.g. `--base_model Qwen/Qwen2.5-1.5B-Instruct`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from retrieval.config import RetrievalConfig, parse_config

BUNDLED_CHAT_MODEL = "bundled:SmolLM2-135M-Instruct"


@dataclass
class ModelConfig:
    base_model: str = field(
        default=BUNDLED_CHAT_MODEL,
        metadata={"help": "Chat model: 'bundled:SmolLM2-135M-Instruct', a Hugging Face id or a local path."},
    )
    adapter: str = field(default="", metadata={"help": "LoRA adapter: a folder, or a registry name such as 'latest'."})
    adapters_dir: str = field(default="adapters", metadata={"help": "Folder of trained adapters (the registry)."})
    load_in_4bit: bool = field(default=False, metadata={"help": "Load the base model in 4-bit NF4 (bitsandbytes)."})
    device: str = field(default="auto", metadata={"help": "'auto', 'cpu', 'cuda' or 'cuda:N'."})


@dataclass
class ChatConfig:
    company_name: str = field(default="Kestrel Audio", metadata={"help": "Company the assistant speaks for."})
    assistant_name: str = field(default="Kess", metadata={"help": "The assistant's name."})
    language: str = field(default="English", metadata={"help": "Language of the answers."})
    tone: str = field(default="friendly, concise and precise", metadata={"help": "Tone of voice."})
    max_new_tokens: int = field(default=200, metadata={"help": "Longest answer in tokens."})
    max_message_chars: int = field(default=2000, metadata={"help": "Longest customer message accepted."})
    attribute_uncited: bool = field(
        default=True,
        metadata={"help": "Add [n] to an uncited sentence when a retrieved passage clearly supports it."},
    )
    no_evidence_message: str = field(
        default="I don't know that from our help center. Would you like me to connect you with a person from our support team?",
        metadata={"help": "Answer when no passage clears the relevance floor."},
    )


@dataclass
class UIConfig:
    host: str = field(default="127.0.0.1", metadata={"help": "Address the web app listens on."})
    port: int = field(default=7860, metadata={"help": "Port of the web app."})


@dataclass
class AppConfig:
    retrieval: RetrievalConfig
    model: ModelConfig
    chat: ChatConfig
    ui: UIConfig


SECTIONS = (RetrievalConfig, ModelConfig, ChatConfig, UIConfig)


def load_config(args=None, extra_types=()) -> tuple[AppConfig, tuple]:
    """Parse the YAML file and flags into an `AppConfig` (plus any extra dataclasses asked for)."""
    parsed = parse_config([*SECTIONS, *extra_types], args)
    return AppConfig(*parsed[: len(SECTIONS)]), tuple(parsed[len(SECTIONS) :])
