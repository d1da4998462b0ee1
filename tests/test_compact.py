"""Compact decoding: the bundled model's weights read from their 4/8-bit codes, exactly."""

import pytest
import torch

from assistant import compact
from assistant.config import ModelConfig
from assistant.generation import LocalGenerator
from assistant.models import load_chat_model

pytestmark = pytest.mark.skipif(not compact.load_kernels(), reason="no AVX2 CPU or no C++ compiler")


@pytest.fixture(scope="module")
def dense():
    model, tokenizer, _ = load_chat_model(ModelConfig(device="cpu", compact_decoding=False))
    return model, tokenizer


def test_every_bundled_linear_layer_is_rebuilt_bit_for_bit(dense):
    model, _ = dense
    layers = [m for m in model.modules() if type(m) is torch.nn.Linear]
    for layer in layers:
        codes = compact.split_q4_1(layer.weight) or compact.split_q8_0(layer.weight)
        assert codes is not None, "a linear layer of the bundled GGUF model was not recognised"
    q, d, m = compact.split_q4_1(layers[0].weight)
    low, high = (q & 0x0F).long(), (q >> 4).long()
    blocks = torch.cat([low.view(q.shape[0], -1, 16), high.view(q.shape[0], -1, 16)], -1)
    assert torch.equal(blocks * d[..., None] + m[..., None], layers[0].weight.view(q.shape[0], -1, 32))


def test_weights_that_are_not_compact_stay_dense():
    weight = torch.randn(64, 96)
    assert compact.split_q4_1(weight) is None and compact.split_q8_0(weight) is None
    model = torch.nn.Sequential(torch.nn.Linear(96, 64))
    assert compact.compact_model(model) == 0 and type(model[0]) is torch.nn.Linear


@pytest.mark.parametrize("rows", [1, 3, 11, 40])
def test_compact_layer_matches_the_dense_one(dense, rows):
    model, _ = dense
    for layer in (model.model.layers[0].mlp.down_proj, model.lm_head):
        codes = compact.split_q4_1(layer.weight) or compact.split_q8_0(layer.weight)
        fast = compact.CompactLinear(layer, codes)
        x = torch.randn(1, rows, layer.in_features)
        with torch.inference_mode():
            assert torch.allclose(fast(x), layer(x), atol=1e-4, rtol=1e-4)


def test_lora_adapter_is_served_unmerged_on_the_compact_weights(dense):
    from peft import LoraConfig, get_peft_model

    _, tokenizer = dense
    base = load_chat_model(ModelConfig(device="cpu", compact_decoding=False))[0]
    torch.manual_seed(0)
    lora = get_peft_model(base, LoraConfig(r=8, target_modules="all-linear", init_lora_weights=False))
    text = "Can I return opened headphones if the box is damaged and I lost the receipt from the store?"
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    assert ids.shape[1] > compact.MAX_ROWS
    short = ids[:, -6:]  # decode-sized: the kernel plus the low-rank update; the long one: merged dense weights
    with torch.inference_mode():
        expected = [lora(x).logits for x in (short, ids)]
        assert compact.compact_model(lora) == 211  # 210 LoRA layers with their base, and the output layer
        served = lora.get_base_model()
        assert not any(hasattr(m, "lora_A") for m in served.modules())
        for x, logits in zip((short, ids), expected):
            assert torch.allclose(served(x).logits, logits, atol=1e-3, rtol=1e-4)


def test_compact_generator_writes_the_dense_models_text(generator, dense, searcher):
    from retrieval.search import format_passages

    assert generator.compact, "the bundled model should load with compact decoding on this CPU"
    model, tokenizer = dense
    question = "Can I change the delivery address after ordering?"
    messages = [{"role": "user", "content": f"{question}\n\n{format_passages(searcher.search(question, 4))}"}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    plain = LocalGenerator(model, tokenizer, prompt_lookup_tokens=0)
    expected = "".join(plain.stream(prompt, max_new_tokens=48))
    assert expected.strip()
    assert "".join(generator.stream(prompt, max_new_tokens=48)) == expected
