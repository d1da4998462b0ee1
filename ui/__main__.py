"""Serve the assistant's web app and API.

    python -m ui [--config configs/assistant.yaml] [--port 7860]
"""

from __future__ import annotations

import sys

from assistant.assistant import Assistant
from assistant.config import load_config
from assistant.errors import AssistantError
from retrieval.errors import RetrievalError
from retrieval.index import ensure_index

from .app import build_app


def main(argv=None) -> int:
    cfg, _ = load_config(argv)
    try:
        summary = ensure_index(cfg.retrieval)
        if summary:
            print(summary)
        assistant = Assistant.from_config(cfg)
    except (AssistantError, RetrievalError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    app = build_app(assistant, title=f"{cfg.chat.company_name} support")
    app.queue(default_concurrency_limit=1).launch(server_name=cfg.ui.host, server_port=cfg.ui.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
