"""Help: what each screen does and every key."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP_MD = """\
# llmplan wizard

State your goals, watch the plan change, compare scenarios, then export and approve the plan.

| key | does |
|---|---|
| F2 | **Goals**: edit the goals; each field is checked as you type (focusing one selects its text) |
| F3 | **Plan**: size, tokens, compute, time, cost, energy, layout, memory, warnings, assumptions |
| F4 | **Compare**: GPU types × model sizes × objectives; `s` sorts by the next column, `r` reverses, ←/→ move a column, Enter loads a row; ★ marks the cost/days/loss Pareto front |
| F5 | **Export/approve**: write YAML, JSON or Markdown; give a name to approve first |
| F6 | **Runs**: the run monitor (stages, log, loss, cost so far); `c` cancels, `r` resumes, `u` refreshes, Esc goes back |
| Tab / Shift+Tab | next / previous field |
| Ctrl+T | dark or light theme |
| Ctrl+P | command palette |
| F1 or ? | this help (Esc closes it) |
| q or Ctrl+Q | quit (`q` types a letter inside a field) |

Numbers accept `1500`, `2.5e6`, `7B`, `300M`, `$2M`, `$1,000,000` (as `llmplan plan` flags and goals
files do). Leave an optional field empty to let the planner choose (budget, deadline, GPU count, price,
unique tokens, target parameters). Data sources: `path[,format=F][,weight=W]; …` as `llmplan plan --data`;
`builtin:pydoc` is the demo corpus, named as such on the Plan screen.

Every figure comes from the planner (`llmplan plan` gives the same plan for the same goals);
approving writes the same record as `llmplan approve` (approver, UTC time, sha256 of the plan).
"""


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,f1,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(HELP_MD)

    def action_close(self) -> None:
        self.dismiss(None)
