"""A context report as plain data: the `grue context --json` schema.

Schema version 1. Every key is always present; counts are tokens of the model the report was
built for; lists keep the report's order (segments in prompt order, entries in firing order).

    {
      "schema": 1,
      "prompt": str,            # the exact prompt text (a BOS token, if any, has no text)
      "total_tokens": int,      # tokens in the prompt, BOS included
      "window": int,            # n_ctx
      "budget": int,            # window - tokens kept for the reply
      "reply_tokens": int,      # window - budget
      "history": {"start": int, "total": int},  # first story message kept, messages in all
      "segments": [{"kind": str, "label": str, "tokens": int, "start": int}],
      "tokens_by_kind": {kind: int},
      "fired": [{"entry": str, "book": str, "key": str, "reason": str, "tokens": int,
                 "position": str, "depth": int | None}],
      "dropped": [{"entry": str, "book": str, "reason": str}],
      "trimmed": [{"what": str, "reason": str}],
      "stop": [str],
      "world": str              # the world state's lines as the prompt holds them, the
                                # newest ("": none)
    }

Segment kinds: "bos", "template", "system", "memory", "card", "lore", "summary", "story",
"action", "note", "world", "instruction", ... (`start` is the token offset in the prompt). A fired
entry's `key` is the key that matched ("" for constant entries; `reason` says why); its
`depth` is how many messages from the end it sits when `position` is "depth", else null.
`dropped` lists entries that matched but did not fit the world-info budget; `trimmed` lists
what the window left out (old story, late lore, the summary...). Later versions only add keys.
"""

from __future__ import annotations

from typing import Any

from tui.engine.context import ContextReport
from tui.engine.context_world import note_lines
from tui.engine.lore import Activation
from tui.engine.world.prompt import WORLD_KIND

SCHEMA_VERSION = 1


def placement(activation: Activation) -> str:
    """Where a fired entry went, for people: "depth 4", "before", "an_top"..."""
    if activation.position == "depth":
        return f"depth {activation.depth}"
    return activation.position


def report_to_json(report: ContextReport) -> dict[str, Any]:
    """The report as JSON-ready data (see the module docstring for the schema)."""
    return {
        "schema": SCHEMA_VERSION,
        "prompt": report.text,
        "total_tokens": report.total_tokens,
        "window": report.window,
        "budget": report.budget,
        "reply_tokens": report.window - report.budget,
        "history": {"start": report.history_start, "total": report.history_total},
        "segments": [
            {"kind": s.kind, "label": s.label, "tokens": s.tokens, "start": s.start}
            for s in report.segments
        ],
        "tokens_by_kind": report.tokens_by_kind(),
        "fired": [
            {
                "entry": a.entry.label,
                "book": a.book,
                "key": a.key,
                "reason": a.reason,
                "tokens": a.tokens,
                "position": a.position,
                "depth": a.depth if a.position == "depth" else None,
            }
            for a in report.fired
        ],
        "dropped": [
            {"entry": d.entry.label, "book": d.book, "reason": d.reason} for d in report.dropped
        ],
        "trimmed": [{"what": t.what, "reason": t.reason} for t in report.trimmed],
        "stop": list(report.stop),
        "world": next((lines for s in reversed(report.segments) if s.kind == WORLD_KIND
                       if (lines := note_lines(s.text.strip())) is not None), ""),
    }
