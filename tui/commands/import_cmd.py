"""`grue import FILE...`: cards, SillyTavern chats, lorebooks and scenarios, format detected.

Cards go to the character library, chats become saved chat campaigns, lorebooks are kept in
`<home>/lorebooks/` (SillyTavern world JSON) and scenarios in `<home>/scenarios/` (TOML). A
file that cannot be imported is reported with the reason and the rest still import; the exit
status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.core.text import count, one_line

PNG_SIGNATURE = b"\x89PNG"
ZIP_SIGNATURE = b"PK\x03\x04"
SNIFF_BYTES = 64 * 1024 * 1024  # larger files are refused by the readers themselves


class ImportFailed(Exception):
    """One file could not be imported; the message is one line naming it."""


@dataclass(frozen=True)
class Imported:
    source: Path
    kind: str  # "character" | "chat" | "lorebook" | "scenario"
    name: str
    dest: Path


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "import", help="import character cards, SillyTavern chats, lorebooks and scenarios")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    failed = 0
    for name in args.files:
        try:
            for item in import_file(Path(name)):
                print(f"{item.kind}: {one_line(item.name, 120)} -> {item.dest}")
        except ImportFailed as exc:
            failed += 1
            print(f"grue: {one_line(str(exc), 300)}", file=sys.stderr)
        except Exception as exc:  # one bad file never stops the others (issue 10, item 12)
            failed += 1
            problem = one_line(str(exc) or type(exc).__name__, 200)
            print(f"grue: {one_line(Path(name).name, 80)}: not imported ({problem})",
                  file=sys.stderr)
    if failed:
        print(f"grue: {failed} of {len(args.files)} files not imported", file=sys.stderr)
    return 1 if failed else 0


# --- one file -----------------------------------------------------------------------------


def import_file(path: Path) -> list[Imported]:
    """Import one file of any known kind. Raises ImportFailed with the reason."""
    label = path.name
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except FileNotFoundError as exc:
        raise ImportFailed(f"{label}: no such file") from exc
    except IsADirectoryError as exc:
        raise ImportFailed(f"{label}: is a folder") from exc
    except OSError as exc:
        raise ImportFailed(f"{label}: cannot read ({exc.strerror or exc})") from exc
    if head.startswith(PNG_SIGNATURE) or head.startswith(ZIP_SIGNATURE):
        return [_card(path)]
    if path.suffix.lower() == ".toml":
        return _scenarios(path)
    first_line = _first_line(path)
    from tui.engine.formats.st_chat import looks_like_st_chat

    if path.suffix.lower() == ".jsonl" or looks_like_st_chat(first_line):
        return [_chat(path)]
    data = _json(path)
    kind = classify(data)
    if kind == "character":
        return [_card(path)]
    if kind == "scenario":
        return _scenarios(path)
    if kind == "lorebook":
        return [_lorebook(path)]
    raise ImportFailed(f"{label}: not a character card, SillyTavern chat, lorebook or scenario")


def classify(data: Any) -> str | None:
    """What parsed JSON holds: "character", "scenario", "lorebook", or None.

    A spec'd card comes first (even with a lorebook inside), then scenarios (a story file
    also holds world info), then lorebooks, then flat V1 cards.
    """
    if isinstance(data, dict):
        spec = str(data.get("spec") or "")
        if spec in ("chara_card_v2", "chara_card_v3") and isinstance(data.get("data"), dict):
            return "character"
    detect_scenario = _scenario_detector()
    if detect_scenario is not None and detect_scenario(data):
        return "scenario"
    from tui.engine.formats.lorebooks import detect_lorebook

    if detect_lorebook(data):
        return "lorebook"
    if isinstance(data, dict) and "name" in data and (
        "first_mes" in data or ("description" in data and "personality" in data)
    ):
        return "character"
    return None


def _scenario_detector() -> Any:
    try:
        from tui.engine.formats.scenarios import detect_scenario
    except ImportError:
        return None
    return detect_scenario


def _first_line(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            return fh.readline(1024 * 1024).decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise ImportFailed(f"{path.name}: cannot read ({exc.strerror or exc})") from exc


def _json(path: Path) -> Any:
    from tui.engine.formats.jsonfile import read_json_file

    return read_json_file(path, SNIFF_BYTES, ImportFailed, "import")


def _unique(folder: Path, stem: str, suffix: str) -> Path:
    for n in range(1, 10_000):
        path = folder / (f"{stem}{suffix}" if n == 1 else f"{stem} ({n}){suffix}")
        if not path.exists():
            return path
    raise ImportFailed(f"{stem}{suffix}: too many files with this name")


# --- each kind ----------------------------------------------------------------------------


def _card(path: Path) -> Imported:
    from tui.engine.character_library import import_card

    outcome = import_card(path)
    if outcome.error is not None or outcome.path is None or outcome.card is None:
        raise ImportFailed(outcome.error or f"{path.name}: not imported")
    return Imported(path, "character", outcome.card.name, outcome.path)


def _chat(path: Path) -> Imported:
    from tui.engine.formats.st_chat import StChatError, import_st_chat
    from tui.engine.saves import SaveError
    from tui.engine.start import first_save

    try:
        campaign = import_st_chat(path)
        dest = first_save(campaign)
    except (StChatError, SaveError) as exc:
        raise ImportFailed(str(exc)) from exc
    return Imported(path, "chat", f"{campaign.title} ({count(len(campaign.turns), 'turn')})", dest)


def _lorebook(path: Path) -> Imported:
    from tui.core.paths import home_subdir
    from tui.engine.cards import safe_filename
    from tui.engine.formats.lorebooks import LoreFormatError, read_lorebook, save_lorebook

    try:
        book, _fmt = read_lorebook(path)
        if not book.name:
            book.name = path.stem
        dest = _unique(home_subdir("lorebooks"), safe_filename(book.name, "lorebook"), ".json")
        save_lorebook(book, dest)
    except LoreFormatError as exc:
        raise ImportFailed(str(exc)) from exc
    except OSError as exc:
        raise ImportFailed(f"{path.name}: cannot be saved ({exc.strerror or exc})") from exc
    entries = count(len(book.entries), "entry", "entries")
    return Imported(path, "lorebook", f"{book.name} ({entries})", dest)


def _scenarios(path: Path) -> list[Imported]:
    try:
        from tui.engine.formats.scenarios import import_scenario_file, scenario_to_toml_dict
    except ImportError as exc:
        raise ImportFailed(f"{path.name}: scenario import is not available") from exc
    import tomli_w

    from tui.core.paths import home_subdir
    from tui.engine.cards import safe_filename
    from tui.engine.cards.files import write_atomic
    from tui.engine.scenario import ScenarioError

    try:
        scenarios = import_scenario_file(path)
    except ScenarioError as exc:
        raise ImportFailed(str(exc)) from exc
    out: list[Imported] = []
    folder = home_subdir("scenarios")
    for scenario in scenarios:
        text = tomli_w.dumps(scenario_to_toml_dict(scenario), multiline_strings=True)
        dest = _unique(folder, safe_filename(scenario.title, "scenario"), ".toml")
        try:
            write_atomic(dest, text.encode("utf-8"))
        except OSError as exc:
            raise ImportFailed(f"{path.name}: cannot be saved ({exc.strerror or exc})") from exc
        name = scenario.title
        trimmed_from = scenario.extra.get("opening_trimmed_from")
        if isinstance(trimmed_from, int):
            name += (f" (opening cut from {trimmed_from:,} to {len(scenario.opening):,} "
                     "characters, keeping its end)")
        out.append(Imported(path, "scenario", name, dest))
    return out
