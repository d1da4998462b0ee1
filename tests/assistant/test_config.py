from pathlib import Path

import pytest

from assistant.config import SECTIONS, load_config
from assistant.errors import ConfigError
from retrieval.config import RetrievalConfig, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_yaml_values_load_and_flags_override(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("company_name: Acme Bikes\ntop_k: 7\nport: 9000\nmin_score: 0.5\n")
    cfg, _ = load_config(["--config", str(config), "--top_k", "3"])
    assert cfg.chat.company_name == "Acme Bikes"
    assert cfg.ui.port == 9000
    assert cfg.retrieval.min_score == 0.5
    assert cfg.retrieval.top_k == 3  # the flag wins over the file


def test_shipped_config_is_complete():
    cfg, _ = load_config(["--config", str(ROOT / "configs" / "assistant.yaml")])
    assert cfg.model.base_model == "bundled:SmolLM2-135M-Instruct"
    assert cfg.retrieval.embedding_model == "bundled:all-MiniLM-L6-v2"
    assert cfg.chat.company_name == "Kestrel Audio"


def test_a_misspelt_setting_is_an_error_that_names_the_right_one(tmp_path):
    """One strict parser for every entry point: a typo in the file or on the command line is never ignored."""
    config = tmp_path / "c.yaml"
    config.write_text("company_name: Acme Bikes\ntopk: 9\n")
    with pytest.raises(ConfigError, match="'topk'; did you mean 'top_k'"):
        load_config(["--config", str(config)])
    with pytest.raises(ConfigError, match="'topk'; did you mean 'top_k'"):  # the retrieval commands too
        parse_config([RetrievalConfig], ["--config", str(config)])
    with pytest.raises(ConfigError, match="--compnay_name; did you mean 'company_name'"):
        load_config(["--compnay_name", "Acme"])
    config.write_text("company_name: Acme Bikes\nshiny_new_thing: 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'shiny_new_thing'"):
        load_config(["--config", str(config)])
    assert parse_config([RetrievalConfig], ["--config", str(config)])[0].top_k == RetrievalConfig().top_k


def test_every_setting_has_one_default(tmp_path):
    """The shipped file and the dataclasses agree, so a setting left out of the file behaves the same."""
    from dataclasses import fields

    import yaml

    shipped = yaml.safe_load((ROOT / "configs" / "assistant.yaml").read_text())
    defaults = {f.name: f.default for section in SECTIONS for f in fields(section)}
    differ = {k: (v, defaults[k]) for k, v in shipped.items() if k in defaults and v != defaults[k]}
    assert set(shipped) <= set(defaults)
    assert not differ, differ


def test_training_trains_on_the_served_dialogue(tmp_path):
    """Training reads the assistant's settings (chat flags on top); the run records the dialogue it trained on."""
    from training.config import SFTRunConfig, parse_run_config

    assistant = tmp_path / "assistant.yaml"
    assistant.write_text("company_name: Acme Bikes\ntop_k: 3\n")
    cfg = parse_run_config(SFTRunConfig, "configs/sft.yaml", ["--assistant_config", str(assistant), "--tone", "warm"])
    dialogue = cfg.served_dialogue()
    assert (dialogue.chat.company_name, dialogue.chat.tone, dialogue.top_k) == ("Acme Bikes", "warm", 3)
    assert "Acme Bikes" in dialogue.settings()["system_prompt"]
    with pytest.raises(ConfigError, match="learning_rate"):
        parse_run_config(SFTRunConfig, "configs/sft.yaml", ["--learnig_rate", "1e-4"])


@pytest.mark.parametrize("flags, match", [
    (["--tool_policy", "sometimes"], "use 'required'"),
    (["--max_prompt_tokens", "700"], "raise it to 900"),
    (["--backend", "openai"], "openai_base_url"),
    (["--top_k", "0"], "at least 1 passage"),
])
def test_settings_that_do_not_fit_together_are_refused_with_the_fix(flags, match):
    with pytest.raises(ConfigError, match=match):
        load_config(flags)


def test_help_lists_every_setting(capsys):
    """`--help` formats every setting's help text (argparse reads '%' in it as a format field)."""
    with pytest.raises(SystemExit) as exited:
        load_config(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--follow_up_gate_share" in out and "--top_k" in out
