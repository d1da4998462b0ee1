"""Typed settings for the model, the chat loop and the UI, read from one YAML file.

Every entry point calls `load_config()`: `--config configs/assistant.yaml` (the default
when present) with command-line flags overriding it, e.g. `--base_model Qwen/Qwen2.5-1.5B-Instruct`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from retrieval.config import RetrievalConfig, parse_config
from retrieval.errors import ConfigError

BUNDLED_CHAT_MODEL = "bundled:SmolLM2-135M-Instruct"
PROMPT_ROOM = 600  # tokens kept for the system prompt and the passages when older turns are trimmed


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
    backend: str = field(
        default="local", metadata={"help": "'local' (transformers in-process) or 'openai' (an OpenAI-compatible server)."}
    )
    openai_base_url: str = field(
        default="", metadata={"help": "Server URL for the openai backend, e.g. http://127.0.0.1:8000/v1."}
    )
    openai_model: str = field(
        default="", metadata={"help": "Model name the server knows (default: base_model, or the adapter for vLLM LoRA)."}
    )
    openai_api_key_env: str = field(
        default="OPENAI_API_KEY", metadata={"help": "Environment variable holding the server's API key, if any."}
    )
    request_timeout: float = field(default=60.0, metadata={"help": "Seconds to wait for the server per request."})
    prompt_lookup_tokens: int = field(
        default=3,
        metadata={"help": "Local backend: tokens drafted per step by copying from the prompt (prompt lookup "
                          "decoding; answers quote their passages). Greedy output is unchanged; 0 turns it off."},
    )
    compact_decoding: bool = field(
        default=True,
        metadata={"help": "Local backend on the CPU: decode from the 4/8-bit codes a GGUF model (the bundled one) "
                          "was published in, rebuilt exactly in a small compiled kernel (same greedy text)."},
    )
    static_cache: bool = field(
        default=True,
        metadata={"help": "Local backend on a GPU: a static KV cache, whose decode step transformers compiles "
                          "(same greedy text; replaces prompt lookup there). No effect on the CPU."},
    )


@dataclass
class ChatConfig:
    company_name: str = field(default="Kestrel Audio", metadata={"help": "Company the assistant speaks for."})
    assistant_name: str = field(default="Kess", metadata={"help": "The assistant's name."})
    language: str = field(default="English", metadata={"help": "Language of the answers."})
    tone: str = field(default="friendly, concise and precise", metadata={"help": "Tone of voice."})
    max_new_tokens: int = field(default=200, metadata={"help": "Longest answer in tokens."})
    max_message_chars: int = field(default=2000, metadata={"help": "Longest customer message accepted."})
    max_turns: int = field(default=40, metadata={"help": "Most customer messages in one conversation."})
    max_prompt_tokens: int = field(
        default=1800, metadata={"help": "Token budget of the prompt; older turns are dropped to fit."}
    )
    tool_policy: str = field(
        default="required",
        metadata={"help": "'required': search before answering each new question; 'auto': the model decides."},
    )
    max_tool_rounds: int = field(default=2, metadata={"help": "Most searches per customer message."})
    handoff_on_request: bool = field(
        default=True, metadata={"help": "Hand the conversation to a person at once when the customer asks for one."}
    )
    handoff_pattern: str = field(
        default=(
            r"\b(talk|speak|chat|connect me)\b.{0,20}\b(human|person|agent|someone|representative|operator)\b"
            r"|\b(real|live|human) (person|agent|human|support)\b"
            r"|\bget me (a|an|some) ?(human|person|agent|one)\b"
            r"|^\W*(human|agent|operator|representative)( please)?\W*$"
        ),
        metadata={"help": "Regular expression (case-insensitive) that marks a request for a person."},
    )
    handoff_message: str = field(
        default="Of course. I'm connecting you with a person from our support team now; they will see this conversation.",
        metadata={"help": "Answer when the conversation is handed to a person."},
    )
    attribute_uncited: bool = field(
        default=True,
        metadata={"help": "Add [n] to an uncited sentence when a retrieved passage clearly supports it."},
    )
    no_evidence_message: str = field(
        default="I don't know that from our help center. Would you like me to connect you with a person from our support team?",
        metadata={"help": "Answer when no passage clears the relevance floor."},
    )
    grounding: bool = field(
        default=True,
        metadata={"help": "The grounding checks (README: How an answer is made): an answerability gate before the "
                          "model answers, a support check of every sentence it writes, the passages' own sentences "
                          "as the floor. false = only the citation-number check (for comparisons)."},
    )
    extractive_sentences: int = field(
        default=3,
        metadata={"help": "Sentences an answer is filled up to with the passage sentences closest to the question, "
                          "after the model's supported sentences."},
    )
    gate_sample_false_refusals: float = field(
        default=0.03,
        metadata={"help": "Share of the answerable questions made from the knowledge base that the gate may decline; "
                          "sets its threshold. 0.03 gave about 0.10 false refusals on data/eval's real questions."},
    )
    follow_up_gate_share: float = field(
        default=0.5,
        metadata={"help": "A follow-up (a message that points back: 'is it covered?') is declined only below this share "
                          "of the gate's threshold: its words cover fewer passage words than a first question's. On "
                          "data/eval/followups.jsonl 1.0 declined a third of the answerable follow-ups, 0.5 about one in 16."},
    )
    gate_examples: int = field(
        default=300, metadata={"help": "Questions made from the knowledge base to build the gate from."}
    )
    decline_confidence: float = field(
        default=0.5,
        metadata={"help": "Local backend: the model may open an answer with the first word of no_evidence_message "
                          "only when it gives that word at least this probability. Greedy decoding otherwise takes "
                          "it whenever it is the likeliest of many openings (README: How an answer is made). "
                          "0 turns this off."},
    )


@dataclass
class UIConfig:
    host: str = field(default="127.0.0.1", metadata={"help": "Address the web app listens on."})
    port: int = field(default=7860, metadata={"help": "Port of the web app."})
    admin_user: str = field(default="admin", metadata={"help": "Admin login name (DESKMATE_ADMIN_USER overrides)."})
    admin_password: str = field(
        default="",
        metadata={"help": "Admin password; empty disables the admin page. Prefer DESKMATE_ADMIN_PASSWORD."},
    )
    concurrency: int = field(default=4, metadata={"help": "Answers worked on at once; other requests wait in the queue."})
    max_queue: int = field(
        default=256, metadata={"help": "Requests allowed to wait; beyond this callers are told the app is busy."}
    )
    feedback_db: str = field(
        default="", metadata={"help": "SQLite file for feedback and handoffs (default $DESKMATE_HOME/feedback.sqlite3)."}
    )
    demo_training: bool = field(
        default=False,
        metadata={"help": "With no adapter trained yet: serve the base model at once, train the demo adapter in the "
                          "background (python -m training.demo) and serve it when it is done (make demo)."},
    )
    api_key: str = field(
        default="",
        metadata={"help": "Key the OpenAI-compatible /v1/chat/completions requires (`Authorization: Bearer <key>`); "
                          "empty: none. Prefer DESKMATE_API_KEY."},
    )


@dataclass
class AppConfig:
    retrieval: RetrievalConfig
    model: ModelConfig
    chat: ChatConfig
    ui: UIConfig

    def check(self) -> None:
        """Every rule that ties settings together, each message saying how to fix it."""
        chat, model = self.chat, self.model
        if chat.tool_policy not in ("required", "auto"):
            raise ConfigError(f"tool_policy is {chat.tool_policy!r}; use 'required' (search for every question) or 'auto'.")
        if chat.tool_policy == "required" and chat.max_tool_rounds < 1:
            raise ConfigError("tool_policy 'required' needs max_tool_rounds of at least 1.")
        if model.backend not in ("local", "openai"):
            raise ConfigError(f"backend is {model.backend!r}; use 'local' or 'openai'.")
        if model.backend == "openai" and not model.openai_base_url:
            raise ConfigError("The openai backend needs openai_base_url, e.g. --openai_base_url http://127.0.0.1:8000/v1.")
        room = chat.max_new_tokens + PROMPT_ROOM
        if chat.max_prompt_tokens < room + 100:
            raise ConfigError(f"max_prompt_tokens {chat.max_prompt_tokens} leaves no room for the conversation: it must "
                              f"exceed max_new_tokens ({chat.max_new_tokens}) plus {PROMPT_ROOM} for the system prompt "
                              f"and passages by at least 100; raise it to {room + 100} or more, or lower max_new_tokens.")
        if chat.max_turns < 1 or chat.max_message_chars < 1 or chat.max_new_tokens < 1:
            raise ConfigError("max_turns, max_message_chars and max_new_tokens must be at least 1.")
        if chat.extractive_sentences < 1:
            raise ConfigError("extractive_sentences must be at least 1: a grounded answer quotes at least one sentence.")
        if not 0 <= chat.follow_up_gate_share <= 1:
            raise ConfigError(f"follow_up_gate_share is {chat.follow_up_gate_share}; give a share in [0, 1].")
        if not 0 <= chat.gate_sample_false_refusals < 1:
            raise ConfigError(f"gate_sample_false_refusals is {chat.gate_sample_false_refusals}; give a share in [0, 1).")
        if self.retrieval.top_k < 1:
            raise ConfigError(f"top_k is {self.retrieval.top_k}; search for at least 1 passage.")
        if self.ui.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {self.ui.concurrency}.")


SECTIONS = (RetrievalConfig, ModelConfig, ChatConfig, UIConfig)


def load_config(args=None, extra_types=()) -> tuple[AppConfig, tuple]:
    """Parse the YAML file and flags into an `AppConfig` (plus any extra dataclasses asked for)."""
    parsed = parse_config([*SECTIONS, *extra_types], args, file_sections=SECTIONS)
    cfg = AppConfig(*parsed[: len(SECTIONS)])
    cfg.check()
    return cfg, tuple(parsed[len(SECTIONS) :])
