"""The `grue` command: argument parsing and subcommands.

Exit status: 0 success, 1 a reported error (one line on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tui import __version__


class UsageError(Exception):
    pass


def _add_play_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plain", action="store_true",
                   help="line mode on stdin/stdout (scripts, screen readers, dumb terminals)")
    p.add_argument("--model", default=None, help="model file (.gguf) or downloaded model name")
    p.add_argument("--backend", choices=["local", "openai", "kobold"], default=None)
    p.add_argument("--url", default=None, help="server URL for --backend openai|kobold")
    p.add_argument("--ctx", type=int, default=None, help="context window in tokens")
    p.add_argument("--max-tokens", type=int, default=None, help="tokens per response")
    p.add_argument("--seed", type=int, default=None, help="make a run repeatable")
    p.add_argument("--preset", default=None, help="sampler preset name")
    p.add_argument("--template", default=None, help="instruct template name, or 'auto'")
    p.add_argument("--style", choices=["auto", "instruct", "story"], default=None,
                   help="prompt style: the model's chat template, or plain story text")
    p.add_argument("--lorebook", action="append", default=[], metavar="FILE",
                   help="attach a lorebook (SillyTavern, NovelAI, KoboldAI...); repeatable")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grue",
        description="Text adventures and roleplay with local language models.",
    )
    parser.add_argument("--version", action="version", version=f"grue {__version__}")
    sub = parser.add_subparsers(dest="command")

    p_new = sub.add_parser("new", help="start an adventure from a scenario")
    p_new.add_argument("scenario", help="scenario name or .toml file")
    _add_play_options(p_new)
    p_new.set_defaults(func=cmd_new)

    p_resume = sub.add_parser("resume", help="continue a saved game (the newest by default)")
    p_resume.add_argument("save", nargs="?", default=None)
    _add_play_options(p_resume)
    p_resume.set_defaults(func=cmd_resume)

    p_scen = sub.add_parser("scenarios", help="list scenarios")
    p_scen.set_defaults(func=cmd_scenarios)

    p_saves = sub.add_parser("saves", help="list saved games")
    p_saves.set_defaults(func=cmd_saves)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list[Callable[[Any], None]]:
    """Subcommands that live in their own modules (models, characters, import, ...)."""
    found: list[Callable[[Any], None]] = []
    for module_name in ("tui.commands.models_cmd", "tui.commands.chat_cmd",
                        "tui.commands.import_cmd", "tui.commands.context_cmd",
                        "tui.commands.export_cmd"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ImportError:
            continue
        register = getattr(module, "register", None)
        if register is not None:
            found.append(register)
    return found


def apply_options(settings: Any, args: argparse.Namespace) -> None:
    """Command-line options override what a save or the defaults say."""
    from tui.engine.presets import get_preset

    if args.model is not None:
        settings.model = args.model
    if args.backend is not None:
        settings.backend = args.backend
    if args.url is not None:
        settings.url = args.url
    if args.ctx is not None:
        if args.ctx < 256:
            raise UsageError("--ctx must be at least 256")
        settings.n_ctx = args.ctx
    if args.max_tokens is not None:
        if args.max_tokens < 1:
            raise UsageError("--max-tokens must be positive")
        settings.max_new_tokens = args.max_tokens
    if args.seed is not None:
        settings.seed = args.seed
    if args.preset is not None:
        try:
            settings.sampler = get_preset(args.preset)
        except (KeyError, ValueError) as exc:
            raise UsageError(str(exc).strip("'\"")) from exc
        settings.preset = args.preset
    if args.template is not None:
        from tui.engine.templates import UnknownTemplate, get_template

        if args.template != "auto":
            try:
                get_template(args.template)
            except UnknownTemplate as exc:
                raise UsageError(str(exc)) from exc
        settings.template = args.template
    if args.style is not None:
        settings.prompt_style = args.style


def play(campaign: Any, args: argparse.Namespace, fresh: bool = False) -> int:
    """Play a campaign (adventure or chat) in plain line mode or the TUI.

    A `fresh` campaign is saved first, once its lorebooks are attached: a bad lorebook is
    reported before anything is written.
    """
    from tui.engine.chat import game_for
    from tui.engine.lorebook_files import attach_lorebook
    from tui.engine.saves import write_save

    for name in getattr(args, "lorebook", None) or []:
        attach_lorebook(campaign, name)
    if fresh:
        write_save(campaign)
    if args.plain:
        from tui.plain_chat import run_plain

        return run_plain(campaign, args)
    from tui.app import GrueApp

    app = GrueApp(game=game_for(campaign))
    app.run()
    return app.return_code or 0


def cmd_new(args: argparse.Namespace) -> int:
    from tui.engine.campaign import Settings, campaign_from_scenario
    from tui.engine.placeholders import scenario_placeholders
    from tui.engine.scenario import find_scenario
    from tui.engine.scenario_start import resolve_scenario

    scenario = find_scenario(args.scenario)
    settings = Settings()
    apply_options(settings, args)
    if not args.plain and (scenario.options or scenario_placeholders(scenario)):
        from tui.app import GrueApp

        app = GrueApp(settings=settings, scenario=scenario)  # asks in dialogs first
        app.run()
        return app.return_code or 0
    if args.plain:
        from tui.plain import ask_line, pick_line

        resolved = resolve_scenario(scenario, pick_line, ask_line)
        if resolved is None:
            print("grue: cancelled", file=sys.stderr)
            return 1
        scenario = resolved
    campaign = campaign_from_scenario(scenario, settings)
    return play(campaign, args, fresh=True)


def cmd_resume(args: argparse.Namespace) -> int:
    from tui.engine.saves import find_save, load_save

    path = find_save(args.save)
    campaign = load_save(path)
    for problem in campaign.problems:  # what the save held that could not be used
        print(f"grue: {path.name}: {problem}", file=sys.stderr)
    apply_options(campaign.settings, args)
    return play(campaign, args)


def cmd_scenarios(args: argparse.Namespace) -> int:
    from tui.core.text import one_line
    from tui.engine.scenario import Scenario, list_scenarios

    for path, item in list_scenarios():
        if isinstance(item, Scenario):
            title = one_line(item.title, 30)
            print(f"{path.stem:<22} {title:<30} {one_line(item.description, 60)}")
        else:
            print(f"{path.stem:<22} (unreadable: {item})")
    return 0


def cmd_saves(args: argparse.Namespace) -> int:
    import time

    from tui.engine.saves import list_saves

    saves = list_saves()
    if not saves:
        print("no saves yet")
    for s in saves:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.updated))
        print(f"{s.id:<44} {s.kind:<9} {s.turns:>4} turns  {when}  {s.title}")
    return 0


def reported_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are the player's problem to fix, shown as one line."""
    from tui.core.backend import BackendError
    from tui.engine.cards import CardError
    from tui.engine.formats.lorebooks import LoreFormatError
    from tui.engine.formats.st_chat import StChatError
    from tui.engine.presets import PresetError
    from tui.engine.saves import SaveError
    from tui.engine.scenario import ScenarioError
    from tui.models.gguf_info import GGUFError

    return (BackendError, CardError, LoreFormatError, StChatError, PresetError, SaveError,
            ScenarioError, GGUFError, OSError)


def report_unexpected(exc: BaseException) -> None:
    """A bug, not bad input: one line on screen, the traceback in the log file."""
    import traceback

    from tui.core.paths import log_path
    from tui.core.text import one_line

    where = log_path()
    try:
        with where.open("a", encoding="utf-8") as log:
            traceback.print_exception(exc, file=log)
    except OSError:
        where = None  # type: ignore[assignment]
    detail = f" (details in {where})" if where else ""
    print(f"grue: unexpected error: {one_line(str(exc) or type(exc).__name__, 200)}{detail}",
          file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        from tui.app import GrueApp

        app = GrueApp()
        app.run()
        return app.return_code or 0
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"grue: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except reported_errors() as exc:
        from tui.core.text import one_line

        print(f"grue: {one_line(str(exc), 300)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - never a traceback on screen
        report_unexpected(exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
