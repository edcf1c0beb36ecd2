"""Export and approve: write the plan as YAML, JSON or Markdown; approve it with a name first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Static

from planner.errors import PlanInputError
from planner.schema import RunPlan
from tui import state
from tui.exporters import EXPORTERS, WIZARD_FORMATS, ExportFormat

FORMATS: tuple[ExportFormat, ...] = WIZARD_FORMATS
"""The formats of the export registry (tui.exporters) that the dialog offers, in its order."""


@dataclass(frozen=True)
class ExportResult:
    """What the dialog wrote: the path and the plan as written (approved or not)."""

    path: Path
    plan: RunPlan


class ExportScreen(ModalScreen[ExportResult | None]):
    CSS_PATH = "export.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "export", "Export"),
        Binding("ctrl+r", "approve", "Approve and export"),
    ]

    def __init__(self, plan: RunPlan) -> None:
        super().__init__()
        self.plan = plan
        self.fmt: ExportFormat = "yaml"

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(f"Export and approve '{self.plan.name}'", id="dialog-title")
            with Horizontal(classes="dialog-row"):
                yield Label("Format", classes="dialog-label")
                with RadioSet(id="format", compact=True):
                    for fmt in FORMATS:
                        yield RadioButton(EXPORTERS[fmt].label, value=fmt == self.fmt, id=f"format-{fmt}",
                                          compact=True)
            with Horizontal(classes="dialog-row"):
                yield Label("Path", classes="dialog-label")
                yield Input(state.suggested_path(self.plan, self.fmt), id="path", compact=True)
            with Horizontal(classes="dialog-row"):
                yield Label("Approver", classes="dialog-label")
                yield Input(placeholder="your name (to approve)", id="approver", compact=True)
            with Horizontal(classes="dialog-row"):
                yield Label("Note", classes="dialog-label")
                yield Input(placeholder="optional", id="note", compact=True)
            if state.demo_data_refusal(self.plan):  # as `llmplan approve --allow-demo-data`
                with Horizontal(classes="dialog-row"):
                    yield Label("Data", classes="dialog-label")
                    yield Checkbox("approve on the demo corpus (it repeats builtin:pydoc)", id="allow-demo",
                                   compact=True)
            yield Static("", id="dialog-status")
            with Horizontal(id="dialog-buttons"):
                yield Button("Export ^s", id="export", variant="primary", compact=True)
                yield Button("Approve+export ^r", id="approve", variant="success", compact=True)
                yield Button("Cancel esc", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    @on(RadioSet.Changed, "#format")
    def _format_changed(self, event: RadioSet.Changed) -> None:
        self.set_format(FORMATS[event.index])

    def set_format(self, fmt: ExportFormat) -> None:
        """Switch the format, and the path's suffix with it when it is the suggested one's."""
        path = self.query_one("#path", Input)
        old_suffix = EXPORTERS[self.fmt].suffix
        if path.value.endswith(old_suffix):
            path.value = path.value.removesuffix(old_suffix) + EXPORTERS[fmt].suffix
        self.fmt = fmt

    @on(Button.Pressed, "#export")
    @on(Input.Submitted, "#path")
    def action_export(self) -> None:
        self.write(approve=False)

    @on(Button.Pressed, "#approve")
    @on(Input.Submitted, "#approver, #note")
    def action_approve(self) -> None:
        self.write(approve=True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def write(self, approve: bool) -> None:
        """Approve (when asked) and write the plan; errors stay in the dialog."""
        path_text = self.query_one("#path", Input).value.strip()
        if not path_text:
            self.show_error("path: give a file name, e.g. " + state.suggested_path(self.plan, self.fmt))
            return
        plan = self.plan
        try:
            if approve:
                allow = self.query("#allow-demo")
                plan = state.approve(plan, self.query_one("#approver", Input).value,
                                     self.query_one("#note", Input).value,
                                     allow_demo_data=bool(allow) and allow.first(Checkbox).value)
            path = state.export_plan(plan, path_text, self.fmt)
        except PlanInputError as exc:
            self.show_error(str(exc))
            return
        except OSError as exc:
            self.show_error(f"path: cannot write {path_text!r}: {exc.strerror or exc}")
            return
        verb = f"Approved by {plan.approval.approved_by} and wrote" if plan.approval else "Wrote"
        self.app.notify(f"{verb} {path}", title="Plan exported")
        self.dismiss(ExportResult(path, plan))

    def show_error(self, message: str) -> None:
        self.query_one("#dialog-status", Static).update(message)
        self.query_one("#dialog-status").add_class("-error")
