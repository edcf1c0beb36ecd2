"""Goals screen: a form for every goal, checked by the schema as you type, with a live plan summary."""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Input, Label, Select, Static

from planner.model.data_sources import uses_demo_corpus
from planner.schema import Goals
from tui import state
from tui.widgets.key_footer import KeyFooter
from tui.widgets.summary import PlanSummary


class GoalsScreen(Screen):
    """Edits the app's goals. Posts `GoalsEdited` with valid goals; shows errors beside fields."""

    CSS_PATH = "goals.tcss"
    TITLE = "Goals"
    AUTO_FOCUS = "#field-objective"

    class GoalsEdited(Message):
        """The form holds valid goals that differ from the app's."""

        def __init__(self, goals: Goals) -> None:
            super().__init__()
            self.goals = goals

    def __init__(self) -> None:
        super().__init__()
        self.errors: dict[str, str] = {}
        self.posted: Goals | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        values = state.form_values(self.app.goals)
        with VerticalScroll(id="form", can_focus=False):  # a 3-column grid: label, editor, error
            for field in state.GOAL_FIELDS:
                yield Label(field.label, classes="field-label", id=f"label-{field.name}")
                yield self._editor(field, values[field.name])
                yield Static("", classes="field-error", id=f"error-{field.name}")
            yield Static("", classes="field-error", id="error-other")
        yield PlanSummary(id="summary")
        yield KeyFooter()

    def _editor(self, field: state.GoalField, value: str) -> Input | Select:
        widget_id = f"field-{field.name}"
        if field.kind == "choice":
            choices = self._choices(field.name)
            options = [(name, name) for name in [*choices, *([value] if value not in choices else [])]]
            return Select(options, value=value, allow_blank=False, compact=True, id=widget_id)
        return Input(value, placeholder=field.placeholder, compact=True, id=widget_id, select_on_focus=True)

    @staticmethod
    def _choices(name: str) -> list[str]:
        if name == "objective":
            return list(state.OBJECTIVES)
        return state.gpu_names() if name == "gpu" else state.region_names()

    def on_mount(self) -> None:
        self.watch(self.app, "goals", self.show_goals)
        for name in ("headline", "plan_error", "plan_pending"):
            self.watch(self.app, name, self.show_summary)

    def show_goals(self, goals: Goals) -> None:
        """Fill the form from goals set elsewhere (start-up, a compare row); keeps what is typed."""
        if goals is self.posted:
            return  # this form's own edit coming back
        current, _ = state.goals_from_form(goals, self.values())
        if current == goals:
            return
        for name, text in state.form_values(goals).items():
            widget = self.query_one(f"#field-{name}")
            with widget.prevent(Input.Changed, Select.Changed):
                if isinstance(widget, Select):
                    self._select(widget, text)
                else:
                    widget.value = text
        self.show_errors({})

    def _select(self, widget: Select, value: str) -> None:
        """Choose `value`, adding it as an option first if the presets do not list it."""
        name = widget.id.removeprefix("field-")
        choices = self._choices(name)
        if value not in choices:
            widget.set_options([(c, c) for c in [*choices, value]])
        widget.value = value

    def values(self) -> dict[str, str]:
        out = {}
        for field in state.GOAL_FIELDS:
            widget = self.query_one(f"#field-{field.name}")
            value = widget.value
            out[field.name] = "" if value is Select.NULL or value is None else str(value)
        return out

    @on(events.DescendantFocus)
    @on(events.DescendantBlur)
    def _focus_moved(self, _: events.Event) -> None:
        """Highlight the label of the field being edited (a Select's open list counts as its field)."""
        node = self.focused
        while node is not None and node is not self and not (node.id or "").startswith("field-"):
            node = node.parent
        editing = node.id.removeprefix("field-") if node is not None and node is not self else ""
        for name in state.FIELD_NAMES:
            self.query_one(f"#label-{name}").set_class(name == editing, "-focus")

    @on(Input.Changed)
    @on(Select.Changed)
    def _edited(self, event: Input.Changed | Select.Changed) -> None:
        event.stop()
        self.check_form()

    def check_form(self) -> Goals | None:
        """Validate the form; post GoalsEdited when it holds new valid goals."""
        goals, errors = state.goals_from_form(self.app.goals, self.values())
        self.show_errors(errors)
        if goals is not None and goals != self.app.goals:
            self.posted = goals
            self.post_message(self.GoalsEdited(goals))
        return goals

    def show_errors(self, errors: dict[str, str]) -> None:
        self.errors = errors
        for name in (*state.FIELD_NAMES, "other"):
            message = errors.get(name, "")
            shown = self.query_one(f"#error-{name}", Static)
            if str(shown.content) != message:  # a relayout only when a message changes
                shown.update(message)
            if name in state.FIELD_NAMES:
                self.query_one(f"#label-{name}").set_class(bool(message), "-invalid")
                self.query_one(f"#field-{name}").set_class(bool(message), "-field-invalid")
        self.show_summary()

    def show_summary(self, _: object = None) -> None:
        app = self.app
        self.query_one(PlanSummary).show(app.headline, app.plan_error, bool(self.errors), app.plan_pending,
                                         uses_demo_corpus(app.goals.data))
