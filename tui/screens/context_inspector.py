"""The context inspector: the prompt the next turn would send, and why it holds what it does.

The prompt is built by the model host on its own thread (a thread worker waits for it), so
the screen never blocks and the model is never touched from the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from tui.core.backend import BackendError
from tui.core.log import log_exception
from tui.core.text import one_line
from tui.engine.adventure import adventure_spec
from tui.engine.campaign import Campaign
from tui.engine.context import ContextReport, PromptSpec
from tui.keys import bindings_for
from tui.model_host import ModelHost
from tui.widgets.key_footer import KeyFooter
from tui.widgets.report_view import lore_text, prompt_text, summary_text

SpecFactory = Callable[[Campaign], PromptSpec]
NOT_LOADED = "No model loaded yet (token counts need it). Try again once it is ready."


def next_turn_spec(campaign: Campaign) -> PromptSpec:
    """The adventure's next turn with no action typed yet (a Continue's prompt)."""
    return adventure_spec(campaign, None)


@dataclass
class ReportBuilt(Message):
    report: ContextReport
    cached: int | None = None  # leading tokens in the model's cache (None: not known)


@dataclass
class ReportFailed(Message):
    error: str


class ContextInspectorScreen(Screen[None]):
    BINDINGS = bindings_for("context")
    CSS_PATH = "context_inspector.tcss"

    def __init__(self, campaign: Campaign, host: ModelHost,
                 spec_factory: SpecFactory | None = None) -> None:
        super().__init__()
        self.campaign = campaign
        self.host = host
        self.spec_factory = spec_factory or next_turn_spec
        self.report: ContextReport | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(f"Context · {one_line(self.campaign.title, 60)}"), id="title",
                     markup=False)
        yield Static("", id="status", markup=False)
        with VerticalScroll(id="body"):
            yield Static("", id="summary", markup=False)
            yield Static("", id="lore", markup=False)
            yield Static("", id="prompt", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#body").focus()
        self.action_rebuild()

    def set_status(self, text: str, style: str = "") -> None:
        self.query_one("#status", Static).update(Text(text, style=style))

    def action_rebuild(self) -> None:
        if not self.host.ready:
            self.set_status(NOT_LOADED, "bold")
            return
        self.set_status("Building the prompt…")
        self.build()

    @work(thread=True, exclusive=True, group="inspect")
    def build(self) -> None:
        try:
            report, cached = self.host.build_with_cache(self.campaign,
                                                        self.spec_factory(self.campaign))
        except BackendError as exc:
            self.post_message(ReportFailed(str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a line on screen, never a traceback
            log_exception("building the prompt failed", exc)
            self.post_message(ReportFailed(f"could not build the prompt: {exc}"))
            return
        self.post_message(ReportBuilt(report, cached))

    def on_report_built(self, message: ReportBuilt) -> None:
        report = self.report = message.report
        self.set_status(f"{report.total_tokens} / {report.budget} tokens · "
                        f"{len(report.fired)} lore fired, {len(report.dropped)} dropped · "
                        "arrows/PgUp/PgDn scroll")
        self.query_one("#summary", Static).update(summary_text(report, message.cached))
        self.query_one("#lore", Static).update(lore_text(report))
        prompt = Text("The prompt, segment by segment\n", style="bold underline")
        prompt.append_text(prompt_text(report))
        self.query_one("#prompt", Static).update(prompt)

    def on_report_failed(self, message: ReportFailed) -> None:
        self.set_status(one_line(message.error, 300), "bold")
        self.notify(one_line(message.error, 300), severity="error", timeout=10)

    def action_jump(self, section: str) -> None:
        self.query_one("#body", VerticalScroll).scroll_to_widget(
            self.query_one(f"#{section}"), top=True, animate=False
        )

    def action_close(self) -> None:
        self.dismiss(None)
