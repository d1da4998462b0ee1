"""Serve the assistant's web app and API.

    python -m ui [--config configs/assistant.yaml] [--port 7860]

Admin login: DESKMATE_ADMIN_PASSWORD (and DESKMATE_ADMIN_USER, default admin).
"""

from __future__ import annotations

import logging
import sys

from assistant.assistant import Assistant
from assistant.config import load_config
from assistant.errors import ModelNotFoundError, UserError
from assistant.feedback import FeedbackStore, default_path
from retrieval.index import ensure_index

from .app import build_app, serve
from .background import DemoTraining
from .settings import admin_enabled, ui_settings


def adapter_exists(cfg) -> bool:
    from assistant.registry import resolve_adapter

    try:
        return resolve_adapter(cfg.model.adapter, cfg.model.adapters_dir) is not None
    except ModelNotFoundError:
        return False


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg, _ = load_config(argv)
    try:
        settings = ui_settings(cfg.ui)
        summary = ensure_index(cfg.retrieval)
        if summary:
            print(summary)
        train_demo = settings.demo_training and bool(cfg.model.adapter) and not adapter_exists(cfg)
        if train_demo:
            cfg.model.adapter = ""  # serve the base model now; the demo adapter follows when trained
        assistant = Assistant.from_config(cfg)
        store = FeedbackStore(default_path(settings.feedback_db))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"feedback is stored in {store.path}")
    if not admin_enabled(settings):
        print("admin page disabled: set DESKMATE_ADMIN_PASSWORD to enable it")
    app = build_app(assistant, feedback=store, settings=settings, title=f"{cfg.chat.company_name} support")
    if train_demo:
        app.service.training = DemoTraining(assistant, cfg.model.adapters_dir).start()
    serve(app, server_name=cfg.ui.host, server_port=cfg.ui.port)
    print(f"OpenAI-compatible endpoint: http://{cfg.ui.host}:{cfg.ui.port}/v1/chat/completions"
          + (" (API key required)" if settings.api_key else ""))
    app.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
