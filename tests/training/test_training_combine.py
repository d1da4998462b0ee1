"""Stacking the SFT and DPO adapters gives exactly base + ΔSFT + ΔDPO."""

import pytest

from training.combine import stack_adapters
from training.errors import TrainingError


def random_adapter(path, folder, seed, targets):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    config = LoraConfig(r=2, lora_alpha=6 + seed, target_modules=targets, init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def base_path():
    from assistant.models import resolve_base_model

    return resolve_base_model("bundled:SmolLM2-135M-Instruct")


def test_stacked_adapter_equals_merging_one_then_applying_the_other(tmp_path, base_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    first = random_adapter(base_path, tmp_path / "sft", 1, ["q_proj", "v_proj"])
    second = random_adapter(base_path, tmp_path / "dpo", 2, ["q_proj", "v_proj"])
    stacked = stack_adapters(first, second, tmp_path / "stacked")
    ids = torch.tensor([[1, 504, 3458, 314, 260, 1345, 30]])
    with torch.no_grad():
        merged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_path), str(first)).merge_and_unload()
        expected = PeftModel.from_pretrained(merged, str(second))(input_ids=ids).logits
        served = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_path), str(stacked))
        got = served(input_ids=ids).logits
        plain = AutoModelForCausalLM.from_pretrained(base_path)(input_ids=ids).logits
    assert served.peft_config["default"].r == 4
    assert not torch.allclose(plain, expected, atol=1e-3)  # the adapters do change the model
    torch.testing.assert_close(got, expected, atol=2e-4, rtol=1e-4)


def test_adapters_on_different_modules_cannot_be_stacked(tmp_path, base_path):
    first = random_adapter(base_path, tmp_path / "a", 1, ["q_proj"])
    second = random_adapter(base_path, tmp_path / "b", 2, ["v_proj"])
    with pytest.raises(TrainingError, match="same targets"):
        stack_adapters(first, second, tmp_path / "out")
