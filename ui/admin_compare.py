"""The admin page's Compare tab: one question, two adapters side by side, staff pick or write the better answer.

The current comparison lives in per-tab server state (`gr.State`) until a pick saves it; every
handler checks the login first, like the rest of the admin page.
"""

from __future__ import annotations

import gradio as gr

from assistant.errors import UserError

from . import admin_tasks as tasks
from .admin import _require
from .compare import COMPARISON_COLUMNS, Comparer, Comparison, answer_markdown, comparisons_table, notes
from .service import ChatService

PICKED = {"a": "A is better", "b": "B is better", "written": "your written answer"}


def _saved_text(comparison: Comparison, choice: str, total: int) -> str:
    return f"Saved comparison #{comparison.saved_id} ({PICKED[choice]}); {total} saved in all."


class CompareHandlers:
    """The Compare tab's event handlers, bound to one `Comparer`."""

    def __init__(self, service: ChatService, comparer: Comparer | None = None):
        self.service, self.comparer = service, comparer or Comparer(service)

    def open(self, ok, choice_a, choice_b):
        """On opening the tab: fresh adapter choices (keeping valid picks) and the recent comparisons."""
        _require(ok)
        choices = tasks.adapter_choices(self.service.assistant.cfg.model.adapters_dir)
        served = self.service.adapter if self.service.adapter in choices else tasks.BASE_MODEL_CHOICE
        first = choice_a if choice_a in choices else served
        second = choice_b if choice_b in choices else next((c for c in reversed(choices) if c != first), first)
        return (gr.Dropdown(choices=choices, value=first), gr.Dropdown(choices=choices, value=second),
                comparisons_table(self.service.store))

    def compare(self, ok, question, choice_a, choice_b, progress=gr.Progress()):
        _require(ok)
        try:
            comparison = self.comparer.compare(question, choice_a, choice_b, lambda desc: progress(None, desc=desc))
        except UserError as exc:
            raise gr.Error(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - a model that fails to load or answer; the app keeps serving
            raise gr.Error(f"Could not compare: {exc}") from exc
        status = "  \n".join(f"⚠️ {note}" for note in notes(comparison)) or "Pick the better answer, or write one."
        return (comparison, answer_markdown("A", comparison.adapter_a, comparison.answer_a, comparison.citations_a),
                answer_markdown("B", comparison.adapter_b, comparison.answer_b, comparison.citations_b), status, "")

    def pick(self, ok, comparison, choice, better=""):
        """Store the pick; return (comparison marked saved, status, recent comparisons)."""
        _require(ok)
        try:
            saved = self.comparer.save(comparison, choice, better)
        except UserError as exc:
            raise gr.Error(str(exc)) from exc
        total = self.service.store.count("comparisons")
        return saved, _saved_text(saved, choice, total), comparisons_table(self.service.store)

    def pick_a(self, ok, comparison):
        return self.pick(ok, comparison, "a")

    def pick_b(self, ok, comparison):
        return self.pick(ok, comparison, "b")

    def save_written(self, ok, comparison, better):
        return self.pick(ok, comparison, "written", better)


def build_compare(service: ChatService, logged_in: gr.State, tab: gr.Tab) -> None:
    """Lay out the Compare tab and wire its events (call inside `with tab:`)."""
    question = gr.Textbox(label="Question", placeholder="A question customers ask…", elem_id="compare-question")
    with gr.Row():
        adapter_a = gr.Dropdown(label="Adapter A", choices=[tasks.BASE_MODEL_CHOICE], value=None)
        adapter_b = gr.Dropdown(label="Adapter B", choices=[tasks.BASE_MODEL_CHOICE], value=None)
    run = gr.Button("Compare", variant="primary")
    status = gr.Markdown(elem_id="compare-status")
    with gr.Row(equal_height=True):
        answer_a = gr.Markdown(elem_id="compare-a", container=True, padding=True)
        answer_b = gr.Markdown(elem_id="compare-b", container=True, padding=True)
    with gr.Row():
        a_better = gr.Button("A is better")
        b_better = gr.Button("B is better")
    better = gr.Textbox(label="Or write a better answer", lines=3, elem_id="compare-better")
    save = gr.Button("Save written answer", size="sm")
    recent = gr.Dataframe(headers=COMPARISON_COLUMNS, label="Recent comparisons", interactive=False, wrap=True)
    current = gr.State(None)

    on, private = CompareHandlers(service), {"api_visibility": "private"}
    tab.select(on.open, [logged_in, adapter_a, adapter_b], [adapter_a, adapter_b, recent], **private)
    answer_out = [current, answer_a, answer_b, status, better]
    gr.on([run.click, question.submit], on.compare, [logged_in, question, adapter_a, adapter_b], answer_out,
          concurrency_limit=1, **private)  # one comparison at a time: each may load a model
    picked = {"outputs": [current, status, recent], "show_progress_on": status, **private}  # a refusal keeps the table
    a_better.click(on.pick_a, [logged_in, current], **picked)
    b_better.click(on.pick_b, [logged_in, current], **picked)
    save.click(on.save_written, [logged_in, current, better], **picked)
