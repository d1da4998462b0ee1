import json

import pytest

from assistant import models, registry
from assistant.errors import ModelNotFoundError


def make_run(adapters_dir, name):
    folder = adapters_dir / name
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    return folder


def test_register_run_names_the_run_and_moves_latest(tmp_path):
    make_run(tmp_path, "sft-1")
    make_run(tmp_path, "dpo-1")
    registry.register_run(tmp_path, "sft-1", {"stage": "sft"}, aliases=("latest", "latest-sft"))
    registry.register_run(tmp_path, "dpo-1", {"stage": "dpo"})
    data = json.loads((tmp_path / "registry.json").read_text())
    assert data["aliases"] == {"latest": "dpo-1", "latest-sft": "sft-1"}
    assert data["runs"]["sft-1"] == {"stage": "sft"}
    assert models.resolve_adapter("latest", str(tmp_path)) == str(tmp_path / "dpo-1")
    assert models.resolve_adapter("latest-sft", str(tmp_path)) == str(tmp_path / "sft-1")
    assert models.resolve_adapter("sft-1", str(tmp_path)) == str(tmp_path / "sft-1")


def test_a_folder_path_resolves_to_itself(tmp_path):
    folder = make_run(tmp_path, "somewhere")
    assert registry.resolve_adapter(str(folder), "unused") == str(folder)
    assert registry.resolve_adapter("", str(tmp_path)) is None


def test_alias_to_a_deleted_run_is_a_clear_error(tmp_path):
    registry.register_run(tmp_path, "gone", {})
    with pytest.raises(ModelNotFoundError, match="training.sft"):
        registry.resolve_adapter("latest", tmp_path)


def test_failed_write_keeps_the_old_registry_and_leaves_no_temp_file(tmp_path):
    registry.register_run(tmp_path, "run-a", {"n": 1})
    before = (tmp_path / "registry.json").read_text()
    with pytest.raises(TypeError):
        registry.register_run(tmp_path, "run-b", {"bad": object()})
    assert (tmp_path / "registry.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["registry.json"]
