"""The admin page: log in, documents and re-index, served adapter, feedback, conversation export, compare adapters.

The login is checked on the server and kept in per-tab server state; every admin action
checks it again, so the hidden controls cannot be used without logging in.
"""

from __future__ import annotations

import gradio as gr

from assistant.config import UIConfig
from retrieval.documents import SUPPORTED_SUFFIXES

from . import admin_tasks as tasks
from .service import ChatService
from .settings import ADMIN_DISABLED, admin_enabled, check_login

NOT_LOGGED_IN = "Log in first."


def _require(logged_in: bool) -> None:
    if not logged_in:
        raise gr.Error(NOT_LOGGED_IN)


class AdminHandlers:
    """The admin page's event handlers; each checks the login first."""

    def __init__(self, service: ChatService, settings: UIConfig):
        self.service, self.settings, self.assistant = service, settings, service.assistant

    def served_text(self) -> str:
        training = getattr(self.service, "training", None)
        note = f"  \n{training.status()}" if training is not None else ""
        return f"Serving: **{self.service.adapter or tasks.BASE_MODEL_CHOICE}**{note}"

    def overview(self):
        choices = tasks.adapter_choices(self.assistant.cfg.model.adapters_dir)
        current = self.service.adapter if self.service.adapter in choices else tasks.BASE_MODEL_CHOICE
        return (tasks.documents_table(self.assistant), self.served_text(), gr.Dropdown(choices=choices, value=current),
                tasks.feedback_table(self.service.store))

    def login(self, name, secret):
        if not check_login(self.settings, name, secret):
            return False, "Wrong user or password.", *[gr.skip()] * 6
        return (True, "", gr.Column(visible=False), gr.Column(visible=True), *self.overview())

    def save(self, ok, files):
        _require(ok)
        try:
            saved = tasks.save_uploads(files or [], self.assistant.cfg.retrieval.kb_dir)
        except tasks.AdminError as exc:
            raise gr.Error(str(exc)) from exc
        return (f"Added {', '.join(saved)}. Press **Re-index** to make them searchable.",
                tasks.documents_table(self.assistant))

    def reindex(self, ok, progress=gr.Progress()):
        _require(ok)
        progress(0, desc="Reading documents")
        try:
            summary = tasks.reindex(self.assistant, lambda done, total: progress((done, total), desc="Embedding"))
        except Exception as exc:  # noqa: BLE001 - any failure is reported; the old index stays usable
            raise gr.Error(f"Re-indexing failed: {exc}") from exc
        return f"Done: {summary}".replace("\n", "  \n"), tasks.documents_table(self.assistant)

    def switch(self, ok, choice, progress=gr.Progress()):
        _require(ok)
        progress(0, desc=f"Loading {choice}")
        try:
            tasks.switch_adapter(self.assistant, choice)
        except Exception as exc:  # noqa: BLE001 - the previous adapter keeps serving
            raise gr.Error(f"Could not switch to {choice}: {exc}") from exc
        return self.served_text()

    def refresh(self, ok):
        _require(ok)
        return tasks.feedback_table(self.service.store)

    def export(self, ok, progress=gr.Progress()):
        _require(ok)
        progress(0, desc="Exporting conversations")
        try:
            out, summary = tasks.export_conversations(self.service.store.path)
        except tasks.AdminError as exc:
            raise gr.Error(str(exc)) from exc
        return f"{summary.replace(str(out), out.name)}. Review it before training on it.", str(out)


def build_admin(service: ChatService, settings: UIConfig) -> None:
    """Lay out the admin tab and wire its events (call inside a `gr.Tab`)."""
    if not admin_enabled(settings):
        gr.Markdown(ADMIN_DISABLED, elem_id="admin-disabled")
        return
    logged_in = gr.State(False)
    with gr.Column() as login_box:
        user = gr.Textbox(label="User", elem_id="admin-user")
        password = gr.Textbox(label="Password", type="password", elem_id="admin-password")
        login = gr.Button("Log in", variant="primary")
        login_status = gr.Markdown()
    with gr.Column(visible=False) as panel:
        with gr.Tab("Documents"):
            uploads = gr.File(label="Help-center articles", file_count="multiple",
                              file_types=sorted(SUPPORTED_SUFFIXES), type="filepath")
            with gr.Row():
                save = gr.Button("Add to knowledge base")
                rebuild = gr.Button("Re-index", variant="primary")
            index_status = gr.Markdown()
            documents = gr.Dataframe(headers=tasks.DOCUMENT_COLUMNS, label="Documents", interactive=False)
        with gr.Tab("Adapter"):
            served = gr.Markdown()
            adapter = gr.Dropdown(label="Serve", choices=[tasks.BASE_MODEL_CHOICE])
            apply = gr.Button("Switch", variant="primary")
        with gr.Tab("Feedback"):
            refresh = gr.Button("Refresh", size="sm")
            feedback = gr.Dataframe(headers=tasks.FEEDBACK_COLUMNS, label="Recent feedback", interactive=False,
                                    wrap=True)
        with gr.Tab("Conversations"):
            gr.Markdown("Every conversation (chat page and API) as SFT training dialogues, personal data masked.")
            export = gr.Button("Export as training data")
            export_status = gr.Markdown()
            exported = gr.File(label="Training dialogues (JSONL)", interactive=False)
        with gr.Tab("Compare") as compare_tab:
            from .admin_compare import build_compare  # here, not at the top: admin_compare uses `_require`

            build_compare(service, logged_in, compare_tab)

    on, private = AdminHandlers(service, settings), {"api_visibility": "private"}
    outputs = [logged_in, login_status, login_box, panel, documents, served, adapter, feedback]
    login.click(on.login, [user, password], outputs, **private)
    password.submit(on.login, [user, password], outputs, **private)
    save.click(on.save, [logged_in, uploads], [index_status, documents], **private)
    rebuild.click(on.reindex, [logged_in], [index_status, documents], concurrency_limit=1, **private)
    apply.click(on.switch, [logged_in, adapter], served, concurrency_limit=1, **private)
    refresh.click(on.refresh, logged_in, feedback, **private)
    export.click(on.export, logged_in, [export_status, exported], concurrency_limit=1, **private)
