"""Training renders dialogues exactly as the assistant serves them and trains on assistant turns only."""

import json
from pathlib import Path

import pytest

from assistant.chat_format import render_conversation
from assistant.config import ChatConfig
from assistant.dialogue import Dialogue, system_prompt
from training.errors import EmptyMaskError
from training.formatting import tokenize_dpo, tokenize_sft

DIALOGUE = Dialogue()

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture(scope="module")
def tokenizer():
    from assistant.models import resolve_base_model
    from training.modeling import load_tokenizer

    return load_tokenizer(resolve_base_model("bundled:SmolLM2-135M-Instruct"))


def first_record(name):
    return json.loads((FIXTURES / name).read_text().splitlines()[0])


def masked_text(tokenizer, row):
    return tokenizer.decode([t for t, m in zip(row["input_ids"], row["assistant_masks"]) if m])


def test_loss_mask_covers_the_assistant_turns_and_their_end_tokens(tokenizer):
    record = first_record("sft_tiny.jsonl")  # user, tool call, tool result, answer
    row = tokenize_sft(tokenizer, record, DIALOGUE)
    trained = masked_text(tokenizer, row)
    call, answer = record["messages"][1], record["messages"][3]
    expected = (
        '<tool_call>\n{"name": "search_knowledge_base", "arguments": {"query": "exchange Arc colour"}}\n'
        f"</tool_call><|im_end|>{answer['content']}<|im_end|>"
    )
    assert call["tool_calls"] and trained == expected
    assert record["messages"][0]["content"] not in trained  # the customer's words are context only
    assert sum(row["assistant_masks"]) < len(row["input_ids"]) // 4


def test_training_text_is_the_serving_prompt_plus_the_answer(tokenizer):
    record = first_record("sft_tiny.jsonl")
    row = tokenize_sft(tokenizer, record, DIALOGUE)
    served = [{"role": "system", "content": system_prompt(ChatConfig())}, *record["messages"][:-1]]
    prompt = render_conversation(tokenizer, served, DIALOGUE.tools(), add_generation_prompt=True)
    text = tokenizer.decode(row["input_ids"])
    assert text.startswith(prompt)  # serving system prompt and search tool schema inserted
    assert "search_knowledge_base" in prompt and "<tools>" in prompt
    assert text[len(prompt):].startswith(record["messages"][-1]["content"])


def test_multi_turn_dialogue_trains_on_every_assistant_turn(tokenizer):
    record = json.loads((FIXTURES / "sft_tiny.jsonl").read_text().splitlines()[4])
    trained = masked_text(tokenizer, tokenize_sft(tokenizer, record, DIALOGUE))
    assistant_turns = [m for m in record["messages"] if m["role"] == "assistant"]
    assert len(assistant_turns) == 4
    assert trained.count("<|im_end|>") == 4
    for message in assistant_turns:
        assert (message["content"] or "<tool_call>") in trained


def test_an_empty_mask_fails_clearly(tokenizer):
    silent = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    silent.chat_template = "{% for m in messages %}{% if m.role != 'assistant' %}{{ m.content }}\n{% endif %}{% endfor %}"
    with pytest.raises(EmptyMaskError, match="no assistant tokens"):
        tokenize_sft(silent, first_record("sft_tiny.jsonl"), DIALOGUE, where="x.jsonl:1")


def test_preference_pair_shares_the_serving_prompt(tokenizer):
    record = first_record("dpo_tiny.jsonl")
    row = tokenize_dpo(tokenizer, record, DIALOGUE)
    assert tokenizer.decode(row["prompt_ids"]).endswith("</tool_response><|im_end|>\n<|im_start|>assistant\n")
    assert tokenizer.decode(row["chosen_ids"]) == record["chosen"][0]["content"] + "<|im_end|>"
    assert tokenizer.decode(row["rejected_ids"]) == record["rejected"][0]["content"] + "<|im_end|>"


def test_training_uses_the_company_the_assistant_serves(tokenizer):
    """A company serving another name trains its adapter on that name's system prompt, not the defaults."""
    acme = Dialogue(ChatConfig(company_name="Acme Bikes", assistant_name="Ada"), top_k=3)
    text = tokenizer.decode(tokenize_sft(tokenizer, first_record("sft_tiny.jsonl"), acme)["input_ids"])
    assert system_prompt(acme.chat) in text and "Acme Bikes" in text and "Kestrel" not in text.split("<tools>")[0]
    assert '"maximum": 3' in text  # the search tool as served: up to top_k passages
