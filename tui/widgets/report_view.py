"""A context report as Rich `Text`: the summary table, the lore decisions and the prompt.

Everything from the report is appended as plain text (cleaned of control characters), so a
prompt holding `[red]` or template markers shows exactly those characters.
"""

from __future__ import annotations

from itertools import cycle

from rich.text import Text

from tui.core.text import clean, one_line
from tui.engine.context import ContextReport, Segment

# 16-colour names only (docs/architecture.md, "Over SSH"); NO_COLOR still leaves bold and
# reverse to tell kinds apart.
KIND_COLOURS = {
    "system": "cyan",
    "template": "bright_black",
    "bos": "bright_black",
    "memory": "green",
    "card": "green",
    "scenario": "green",
    "lore": "yellow",
    "summary": "magenta",
    "story": "blue",
    "action": "bright_cyan",
    "note": "magenta",
    "world": "bright_green",
}
_SPARE = ("bright_yellow", "bright_magenta", "bright_blue", "red")


def kind_colours(report: ContextReport) -> dict[str, str]:
    """A colour per segment kind in the report; kinds not in the table get spare colours."""
    spare = cycle(_SPARE)
    out: dict[str, str] = {}
    for seg in report.segments:
        if seg.kind not in out:
            out[seg.kind] = KIND_COLOURS.get(seg.kind) or next(spare)
    return out


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def reading_line(report: ContextReport, cached: int | None) -> str:
    """What sending this prompt now would cost: tokens to read, where reading starts and why
    (the first segment that differs from what the model's cache holds)."""
    if cached is None:
        return ""
    total = report.total_tokens
    cached = min(cached, total)
    if cached >= total - 1:
        return f"Next turn: all {total} prompt tokens are in the model's cache.\n"
    where = next((s for s in report.segments if s.start + s.tokens > cached), None)
    start = f' from "{one_line(where.label, 40)}" on, which the cache does not hold' \
        if where else ""
    return (f"Next turn: reads {total - cached} of {total} prompt tokens{start}; "
            f"{cached} are in the model's cache.\n")


def summary_text(report: ContextReport, cached: int | None = None) -> Text:
    """Tokens per kind, the total against the budget and window, the history kept, and
    (when the cache is known) what the next turn must read."""
    colours = kind_colours(report)
    text = Text()
    text.append(f"{'Kind':<14}{'Tokens':>8}{'Share':>8}\n", style="bold underline")
    for kind, tokens in report.tokens_by_kind().items():
        text.append(f"{one_line(kind, 13):<14}", style=f"bold {colours[kind]}")
        text.append(f"{tokens:>8}{_pct(tokens, report.total_tokens):>8}\n")
    text.append(f"{'Total':<14}{report.total_tokens:>8}\n", style="bold")
    reply = report.window - report.budget
    text.append(
        f"Prompt {report.total_tokens} of {report.budget} tokens "
        f"({_pct(report.total_tokens, report.budget).strip()} of the budget); window "
        f"{report.window}, {reply} kept for the reply.\n"
    )
    if report.history_total:
        first = report.history_start + 1
        text.append(f"Story messages in the prompt: {first}-{report.history_total} "
                    f"of {report.history_total}.\n")
    text.append(reading_line(report, cached))
    return text


def lore_text(report: ContextReport) -> Text:
    """World info that fired (and why), matched but was dropped (and why), and trims."""
    text = Text()
    text.append(f"World info fired ({len(report.fired)})\n", style="bold underline")
    for a in report.fired:
        text.append("✓ ", style="bold green")
        text.append(one_line(a.entry.label, 40), style="bold")
        text.append(f" ({one_line(a.book, 24)}): {one_line(a.reason, 80)}")
        if a.key and a.key not in a.reason:
            text.append(f' key "{one_line(a.key, 40)}"')
        where = f"depth {a.depth}" if a.position == "depth" else a.position
        text.append(f" · {a.tokens} tok · {where}\n")
    if not report.fired:
        text.append("  none\n", style="dim")
    text.append(f"Matched but dropped ({len(report.dropped)})\n", style="bold underline")
    for d in report.dropped:
        text.append("✗ ", style="bold red")
        text.append(one_line(d.entry.label, 40), style="bold")
        text.append(f" ({one_line(d.book, 24)}): {one_line(d.reason, 120)}\n")
    if not report.dropped:
        text.append("  none\n", style="dim")
    text.append(f"Trimmed for room ({len(report.trimmed)})\n", style="bold underline")
    for t in report.trimmed:
        text.append(f"- {one_line(t.what, 60)}: {one_line(t.reason, 100)}\n")
    if not report.trimmed:
        text.append("  nothing\n", style="dim")
    return text


def _label_line(seg: Segment, colour: str) -> Text:
    line = Text()
    line.append(f" {one_line(seg.kind, 16)} ", style=f"bold reverse {colour}")
    line.append(f" {one_line(seg.label, 50)} · {seg.tokens} tok @{seg.start}",
                style=f"bold {colour}")
    return line


def prompt_text(report: ContextReport) -> Text:
    """The exact prompt, each segment after a coloured label line, in alternating styles."""
    colours = kind_colours(report)
    text = Text()
    open_line = False  # the last segment's text did not end with a line break
    for i, seg in enumerate(report.segments):
        if open_line:
            text.append("\n")
        text.append_text(_label_line(seg, colours[seg.kind]))
        text.append("\n")
        body = clean(seg.text)
        if not body.strip():
            newlines = body.count("\n")
            what = f"{newlines} line break(s)" if newlines else ("empty" if not body else
                                                                  "spaces")
            text.append(f"({what})", style="dim italic")
            open_line = True
        else:
            text.append(body, style="dim" if i % 2 else "")
            open_line = not body.endswith("\n")
    return text
