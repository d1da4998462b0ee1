"""Train the demo adapter in the background while the app already serves, then serve it.

A fresh install should chat within minutes, not after training. With `demo_training` on
and no adapter trained yet, `python -m ui` serves the base model at once (the grounding
checks apply to it as to any model) and runs `python -m training.demo` as a separate
process, its output in `$DESKMATE_HOME/demo-training.log`. When it finishes, the app
switches to the new `latest` adapter without a restart; the admin page's Adapter tab shows
the progress. The training runs as a command, not an import: the web app does not depend
on the training package.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

from retrieval.config import cache_home

log = logging.getLogger("ui")


class DemoTraining:
    def __init__(self, assistant, adapters_dir: str, log_path: Path | None = None):
        self.assistant, self.adapters_dir = assistant, adapters_dir
        self.log_path = log_path or cache_home() / "demo-training.log"
        self.process: subprocess.Popen | None = None
        self.outcome = ""  # "", "served", or why it failed

    def start(self) -> "DemoTraining":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w", encoding="utf-8") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "training.demo", "--adapters_dir", self.adapters_dir],
                stdout=out, stderr=subprocess.STDOUT)
        threading.Thread(target=self._serve_when_done, daemon=True, name="demo-training").start()
        log.info("training the demo adapter in the background (log: %s)", self.log_path)
        return self

    def _serve_when_done(self) -> None:
        code = self.process.wait()
        if code != 0:
            self.outcome = f"training failed (exit code {code}); see {self.log_path}"
            log.error("%s", self.outcome)
            return
        try:
            self.assistant.use_adapter("latest")
            self.outcome = "served"
            log.info("now serving the demo adapter")
        except Exception as exc:  # noqa: BLE001 - the base model keeps serving
            self.outcome = f"trained, but could not be loaded: {exc}"
            log.error("%s", self.outcome)

    def status(self) -> str:
        """One line for the admin page: running (with the log's last line), served, or failed."""
        if self.outcome == "served":
            return "Demo adapter trained in the background and now served."
        if self.outcome:
            return f"Demo adapter: {self.outcome}."
        return f"Training the demo adapter in the background (base model served meanwhile): {last_line(self.log_path)}"


def last_line(path: Path) -> str:
    """The last progress line of a log (progress bars write carriage returns, not newlines)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[-4000:]
    except OSError:
        return "starting"
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return f"`{lines[-1][:160]}`" if lines else "starting"
