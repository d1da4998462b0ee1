"""Build the Gradio app around an injected `Assistant` (nothing heavy happens at import time).

    app = build_app(assistant, feedback=FeedbackStore(path), settings=ui_settings(cfg.ui))
    serve(app).block_thread()     # the page, the gradio_client API and /v1/chat/completions

The same app serves the customer chat, the admin page, the API for `gradio_client`
(/chat, /chat_stream, /search, /feedback, /handoff) and an OpenAI-compatible
`/v1/chat/completions` (`openai_api.py`). Answers go through a queue with the configured
concurrency, so a burst of customers waits its turn instead of failing.
"""

from __future__ import annotations

import gradio as gr

from assistant.config import UIConfig
from assistant.feedback import FeedbackStore, default_path

from .admin import build_admin
from .api import register_api
from .chat import build_chat
from .openai_api import add_openai_routes
from .service import ChatService
from .settings import ui_settings

def build_app(assistant, *, feedback: FeedbackStore | None = None, settings: UIConfig | None = None,
              title: str = "Support assistant") -> gr.Blocks:
    """The web app and API; `settings` default to the `ui` defaults with the environment over them, and
    `feedback` to the store at their `feedback_db`."""
    settings = settings or ui_settings()
    store = feedback or FeedbackStore(default_path(settings.feedback_db))
    service = ChatService(assistant, store)
    with gr.Blocks(title=title) as app:
        gr.Markdown(f"## {title}")
        with gr.Tab("Chat"):
            build_chat(app, service)
        with gr.Tab("Admin"):
            build_admin(service, settings)
        register_api(service)
    app.service, app.settings = service, settings  # for `serve`, tests and embedding code
    return app.queue(default_concurrency_limit=settings.concurrency, max_size=settings.max_queue)


def serve(app: gr.Blocks, **launch) -> gr.Blocks:
    """Start the app's server without blocking (`launch` goes to `Blocks.launch`) and add the OpenAI-compatible
    endpoint to it; `app.block_thread()` then keeps a script serving."""
    app.launch(prevent_thread_lock=True, **launch)
    add_openai_routes(app.server_app, app.service, app.settings.api_key, app.settings.concurrency)
    return app
