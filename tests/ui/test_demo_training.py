"""`make demo` serves at once and switches to the demo adapter when its background training ends."""

import json
import time

from ui.background import DemoTraining, last_line


class Switching:
    def __init__(self):
        self.served = []

    def use_adapter(self, name):
        self.served.append(name)


def wait_for(training, seconds=120):
    deadline = time.monotonic() + seconds
    while not training.outcome and time.monotonic() < deadline:
        time.sleep(0.2)


def test_the_app_serves_the_adapter_when_the_training_command_finishes(tmp_path):
    adapters = tmp_path / "adapters"
    (adapters / "dpo-1").mkdir(parents=True)
    (adapters / "dpo-1" / "adapter_config.json").write_text("{}")
    (adapters / "registry.json").write_text(json.dumps({"aliases": {"latest": "dpo-1"}, "runs": {}}))
    assistant = Switching()
    training = DemoTraining(assistant, str(adapters), tmp_path / "demo.log").start()
    assert "background" in training.status() or training.outcome
    wait_for(training)
    assert training.outcome == "served" and assistant.served == ["latest"]
    assert "now served" in training.status() and "Demo adapter ready" in (tmp_path / "demo.log").read_text()


def test_a_failed_training_keeps_the_base_model_and_says_where_the_log_is(tmp_path):
    (tmp_path / "adapters").mkdir()
    (tmp_path / "adapters" / "registry.json").write_text("{broken")  # training.demo stops at once on it
    assistant = Switching()
    training = DemoTraining(assistant, str(tmp_path / "adapters"), tmp_path / "demo.log").start()
    wait_for(training)
    assert assistant.served == [] and "failed" in training.status() and "demo.log" in training.status()


def test_the_status_shows_the_last_progress_line(tmp_path):
    log = tmp_path / "demo.log"
    log.write_text("SFT data: 300 train\nTraining:  10%|#  | 5/50\rTraining:  20%|## | 10/50")
    assert "10/50" in last_line(log) and last_line(tmp_path / "missing.log") == "starting"
