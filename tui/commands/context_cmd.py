"""`grue context [SAVE] [--json] [--action TEXT]`: the prompt the next turn would send.

Token counts are the campaign model's own: for a local model only its vocabulary is loaded
(llama.cpp `vocab_only`, a fraction of a second, no weights), after checking the GGUF header
in Python; a remote backend is asked to tokenize. The JSON schema is in
`tui.engine.context_json`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, TextIO

from tui.core.backend import Backend, BackendError
from tui.core.text import clean, one_line
from tui.engine.campaign import Campaign
from tui.engine.context import ContextReport, PromptSpec
from tui.engine.context_json import placement

DEFAULT_N_CTX = 4096


def tokenizer_for(campaign: Campaign) -> Backend:
    """A loaded backend that tokenizes as the campaign's model does."""
    settings = campaign.settings
    if settings.backend in ("", "local"):
        from tui.backends.factory import resolve_model_path
        from tui.backends.local import LocalBackend

        backend: Backend = LocalBackend(resolve_model_path(settings.model), settings.n_ctx,
                                        vocab_only=True)
    else:
        from tui.backends.factory import make_backend

        backend = make_backend(settings.backend_config())
    backend.load()
    return backend


def next_turn_spec(campaign: Campaign, action: str | None) -> PromptSpec:
    """What the next turn's prompt holds: with `action` as the player's input, else none."""
    if campaign.kind == "chat":
        from tui.engine.chat_prompt import chat_spec

        return chat_spec(campaign, action or None)
    from tui.engine.actions import Mode, make_action
    from tui.engine.adventure import adventure_spec

    pending = make_action(Mode.DO, action).text if action else None
    return adventure_spec(campaign, pending)


def build_report(campaign: Campaign, action: str | None = None) -> ContextReport:
    from tui.engine.game import make_builder

    backend = tokenizer_for(campaign)
    try:
        return make_builder(backend, campaign).build(next_turn_spec(campaign, action))
    finally:
        backend.close()


def print_report(report: ContextReport, out: TextIO) -> None:
    """The human-readable report; untrusted text is stripped of control characters."""
    reply = report.window - report.budget
    out.write(f"Prompt: {report.total_tokens} tokens of a {report.window}-token window "
              f"(budget {report.budget}, {reply} kept for the reply)\n")
    out.write("\n---- prompt ----\n")
    out.write(clean(report.text))
    out.write("\n---- end of prompt ----\n\nSegments:\n")
    out.write(f"  {'start':>6} {'tokens':>6}  {'kind':<12} label\n")
    for s in report.segments:
        out.write(f"  {s.start:>6} {s.tokens:>6}  {s.kind:<12} {one_line(s.label, 60)}\n")
    by_kind = ", ".join(f"{k} {v}" for k, v in report.tokens_by_kind().items())
    out.write(f"  by kind: {by_kind}\n")
    out.write("\nWorld info fired:\n" if report.fired else "\nWorld info fired: none\n")
    for a in report.fired:
        out.write(f"  {one_line(a.entry.label, 40)} ({one_line(a.book, 30)}): "
                  f"{one_line(a.reason, 60)}, {a.tokens} tokens, {placement(a)}\n")
    if report.dropped:
        out.write("\nMatched but dropped:\n")
        for d in report.dropped:
            out.write(f"  {one_line(d.entry.label, 40)} ({one_line(d.book, 30)}): "
                      f"{one_line(d.reason, 80)}\n")
    if report.trimmed:
        out.write("\nLeft out:\n")
        for t in report.trimmed:
            out.write(f"  {one_line(t.what, 60)}: {one_line(t.reason, 60)}\n")
    out.write(f"\nHistory: messages {report.history_start + 1}-{report.history_total} of "
              f"{report.history_total} in the prompt\n")


# JSON leaves C1 controls and bidi overrides raw inside strings; a terminal would obey them.
_UNSAFE_IN_JSON = re.compile("[\x80-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def json_for_terminal(data: object) -> str:
    """`data` as readable JSON (non-ASCII text kept) with every control escaped as `\\uXXXX`."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def cmd_context(args: argparse.Namespace) -> int:
    from tui.engine.context_json import report_to_json
    from tui.engine.saves import SaveError, find_save, load_save
    from tui.models.gguf_info import GGUFError

    try:
        campaign = load_save(find_save(args.save))
        if args.model is not None:
            campaign.settings.model = args.model
        report = build_report(campaign, args.action)
    except (SaveError, BackendError, GGUFError, OSError) as exc:
        print(f"grue: {one_line(str(exc), 300)}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(json_for_terminal(report_to_json(report)) + "\n")
    else:
        print_report(report, sys.stdout)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "context", help="show the prompt the next turn would send, and what is in it"
    )
    p.add_argument("save", nargs="?", default=None, help="save id, title or file (the newest)")
    p.add_argument("--json", action="store_true", help="machine-readable report (schema 1)")
    p.add_argument("--action", default=None, help="include this action as the player's input")
    p.add_argument("--model", default=None, help="count with this model instead of the save's")
    p.set_defaults(func=cmd_context)
