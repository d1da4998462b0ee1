from pathlib import Path

from assistant.config import load_config

ROOT = Path(__file__).resolve().parents[1]


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
