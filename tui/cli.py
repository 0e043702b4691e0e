"""The `grue` command: argument parsing and subcommands.

Exit status: 0 success, 1 a reported error (one line on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tui import __version__

if TYPE_CHECKING:
    from tui.engine.start import StartOptions


class UsageError(Exception):
    pass


def _add_play_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plain", action="store_true",
                   help="line mode on stdin/stdout (scripts, screen readers, dumb terminals)")
    p.add_argument("--model", default=None, help="model file (.gguf) or downloaded model name")
    p.add_argument("--backend", choices=["local", "openai", "kobold"], default=None)
    p.add_argument("--url", default=None, help="server URL for --backend openai|kobold")
    p.add_argument("--api-key", default=None, metavar="KEY",
                   help="the server's API key or KoboldCpp password (default $GRUE_API_KEY);"
                        " never saved")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="give up on a server silent this long (default $GRUE_TIMEOUT or 60)")
    p.add_argument("--ctx", type=int, default=None, help="context window in tokens")
    p.add_argument("--max-tokens", type=int, default=None, help="tokens per response")
    p.add_argument("--seed", type=int, default=None, help="make a run repeatable")
    p.add_argument("--no-context-shift", action="store_true",
                   help="local models: re-read the prompt exactly when old story is trimmed,"
                        " instead of shifting the cache (slower; $GRUE_CONTEXT_SHIFT=0)")
    p.add_argument("--preset", default=None, help="sampler preset name")
    p.add_argument("--template", default=None, help="instruct template name, or 'auto'")
    p.add_argument("--style", choices=["auto", "instruct", "story"], default=None,
                   help="prompt style: the model's chat template, or plain story text")
    p.add_argument("--lorebook", action="append", default=[], metavar="FILE",
                   help="attach a lorebook (SillyTavern, NovelAI, KoboldAI...); repeatable")


def apply_server_options(args: argparse.Namespace) -> None:
    """--api-key and --timeout, for this run only (never saved): they become this process's
    $GRUE_API_KEY and $GRUE_TIMEOUT, which every game the run opens reads
    (`Settings.backend_config`). A bad $GRUE_TIMEOUT is a usage error here."""
    import os

    from tui.core.backend import API_KEY_ENV, TIMEOUT_ENV

    if getattr(args, "api_key", None) is not None:
        os.environ[API_KEY_ENV] = args.api_key
    if getattr(args, "no_context_shift", False):
        os.environ["GRUE_CONTEXT_SHIFT"] = "0"
    if not hasattr(args, "timeout"):
        return
    timeout, name = args.timeout, "--timeout"
    if timeout is None and os.environ.get(TIMEOUT_ENV):
        name = TIMEOUT_ENV
        try:
            timeout = float(os.environ[TIMEOUT_ENV])
        except ValueError:
            raise UsageError(f"{TIMEOUT_ENV} must be a number of seconds") from None
    if timeout is not None:
        if not 0 < timeout < float("inf"):
            raise UsageError(f"{name} must be a positive number of seconds")
        os.environ[TIMEOUT_ENV] = str(timeout)


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
                        "tui.commands.export_cmd", "tui.commands.serve_cmd"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ImportError:
            continue
        register = getattr(module, "register", None)
        if register is not None:
            found.append(register)
    return found


def start_options(args: argparse.Namespace) -> StartOptions:
    """The StartOptions the command line asks for (`tui.engine.start`); UsageError if bad."""
    from tui.engine.start import SettingsOverride, StartError, StartOptions

    override = SettingsOverride(
        model=args.model, backend=args.backend, url=args.url, n_ctx=args.ctx,
        max_new_tokens=args.max_tokens, seed=args.seed, preset=args.preset,
        template=args.template, prompt_style=args.style,
    )
    try:
        override.check()
    except StartError as exc:
        raise UsageError(str(exc)) from exc
    return StartOptions(
        settings=override,
        lorebooks=tuple(getattr(args, "lorebook", None) or ()),
        persona_name=getattr(args, "persona", None),
        persona_description=getattr(args, "persona_description", "") or "",
    )


def report_problems(campaign: Any) -> None:
    """What a loaded save held that could not be used (replaced by defaults), a line each."""
    for problem in getattr(campaign, "problems", ()):
        print(f"grue: {campaign.id}: {problem}", file=sys.stderr)


def start(source: Any, args: argparse.Namespace) -> int:
    """Start (or continue) a game from `source` and play it, in line mode or the TUI.

    The engine's `start_game` does the work; this only picks how to ask the player. A
    scenario that asks questions in the TUI is started by the app, which asks in dialogs.
    """
    from tui.engine.scenario import Scenario
    from tui.engine.start import Asker, check_options, needs_asking, start_game

    options = start_options(args)
    if args.plain:
        from tui.plain import ask_line, pick_line

        game = start_game(source, options, Asker(pick_line, ask_line))
        if game is None:
            print("grue: cancelled", file=sys.stderr)
            return 1
        report_problems(game.campaign)
        from tui.plain_chat import run_plain

        return run_plain(game.campaign, args)
    from tui.app import GrueApp

    if isinstance(source, Scenario) and needs_asking(source):
        check_options(options)  # a bad lorebook is reported here, not in the app
        app = GrueApp(options=options, scenario=source)  # asks in dialogs first
    else:
        game = start_game(source, options)
        if game is None:
            return 1
        report_problems(game.campaign)
        app = GrueApp(game=game)
    app.run()
    return app.return_code or 0


def cmd_new(args: argparse.Namespace) -> int:
    from tui.engine.scenario import find_scenario

    return start(find_scenario(args.scenario), args)


def cmd_resume(args: argparse.Namespace) -> int:
    from tui.engine.saves import find_save
    from tui.engine.start import SavedGame

    return start(SavedGame(find_save(args.save)), args)


def cmd_scenarios(args: argparse.Namespace) -> int:
    from tui.core.text import one_line
    from tui.engine.scenario import Scenario, list_scenarios

    for path, item in list_scenarios():
        name = one_line(path.stem, 60)  # a file name is untrusted text too
        if isinstance(item, Scenario):
            title = one_line(item.title, 30)
            print(f"{name:<22} {title:<30} {one_line(item.description, 60)}")
        else:
            print(f"{name:<22} (unreadable: {one_line(str(item), 200)})")
    return 0


def cmd_saves(args: argparse.Namespace) -> int:
    import time

    from tui.core.text import count
    from tui.engine.saves import list_saves

    saves = list_saves()
    if not saves:
        print("no saves yet")
    for s in saves:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.updated))
        turns = s.player_turns if s.player_turns >= 0 else s.turns  # as the home screen says
        print(f"{s.id:<44} {s.kind:<9} {count(turns, 'turn'):>10}  {when}  {s.title}")
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


def reader_went_away() -> int:
    """Whoever read our output stopped (`grue context | head`): end quietly, as Unix tools
    do, with the status a process killed by SIGPIPE has. Standard output is pointed at the
    null device so the interpreter's last flush cannot complain either."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return 128 + 13  # SIGPIPE


def run_home() -> int:
    """The TUI's home screen: `grue` with no subcommand."""
    from tui.app import GrueApp

    app = GrueApp()
    app.run()
    return app.return_code or 0


def main(argv: Sequence[str] | None = None) -> int:
    if not (sys.argv[1:] if argv is None else argv):
        # `grue` alone: the subcommands' parsers (and the modules they import) are not
        # built, the home screen is (docs/architecture.md, "Launch").
        return run_home()
    from tui.engine.start import StartError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        return run_home()
    try:
        apply_server_options(args)
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"grue: {exc}", file=sys.stderr)
        return 2
    except StartError as exc:
        print(f"grue: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return reader_went_away()
    except reported_errors() as exc:
        from tui.core.text import one_line

        print(f"grue: {one_line(str(exc), 300)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - never a traceback on screen
        report_unexpected(exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
