"""Every key binding of every screen, as data (docs/architecture.md, "Keys").

One table: each binding has a stable id the player can remap in `keymap.toml` (see
`tui/keymap.py`), its default keys, the action it runs, a short footer label, a help text,
the screens it belongs to, and a footer priority. The screens' `BINDINGS`, the footer's order,
the F1 help and the README's key table are all made from it, so they cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding

GAME = ("adventure", "chat")


@dataclass(frozen=True)
class KeySpec:
    id: str                 # stable, remappable: "game.retry"
    keys: str               # default keys, comma-separated Textual key names: "f4,ctrl+r"
    action: str             # the Textual action it runs: "retry", "swipe(1)", "app.quit"
    label: str              # short footer label
    help: str               # one line for the F1 help and the README
    screens: tuple[str, ...]
    footer: int | None = None  # footer priority, 1 shows first; None: never in the footer
    priority: bool = False     # checked before the focused widget's own keys
    bindable: bool = True      # False: documented only (Enter in the input line)


KEYS: tuple[KeySpec, ...] = (
    # --- the app, everywhere ---------------------------------------------------------------
    # Priority, so it works in dialogs too (Textual skips the app's other keys there).
    KeySpec("app.quit", "ctrl+q", "leave", "Quit",
            "in a game, or a screen or dialog over one: save and go back to the home screen; "
            "elsewhere: quit", ("app",), priority=True),
    # --- home --------------------------------------------------------------------------------
    KeySpec("home.help", "f1", "app.help", "Help", "this help: the keys of every screen",
            ("home",), footer=1),
    KeySpec("home.quit", "ctrl+q,q", "app.quit", "Quit", "quit Grue", ("home",), footer=2,
            priority=True),
    KeySpec("home.rename", "r,f2", "rename_save", "Rename", "rename the highlighted save",
            ("home",), footer=3),
    KeySpec("home.delete", "d,delete", "delete_save", "Delete",
            "delete the highlighted save (asks first)", ("home",), footer=4),
    # --- a game: adventure and chat ------------------------------------------------------------
    KeySpec("adventure.send", "enter", "", "Send", "send the action (empty: continue the story)",
            ("adventure",), bindable=False),
    KeySpec("chat.send", "enter", "", "Send", "send your message (empty: continue the last "
            "reply)", ("chat",), bindable=False),
    KeySpec("game.mode", "tab", "cycle_mode", "Mode",
            "adventure: switch Do / Say / Story (or start the line with 'do ', 'say ', "
            "'story ')", GAME, priority=True),
    KeySpec("game.stop", "escape", "cancel", "Stop", "stop the model while it writes", GAME),
    KeySpec("game.help", "f1", "help", "Help", "this help: keys and commands", GAME, footer=1),
    KeySpec("game.home", "ctrl+q", "home", "Home", "save and go back to the home screen", GAME,
            footer=2, priority=True),
    KeySpec("game.memory", "f2", "memory", "Memory",
            "edit the memory (always at the top of the prompt)", GAME, footer=7),
    KeySpec("game.note", "f3", "note", "Note", "edit the author's note", GAME, footer=13),
    KeySpec("game.retry", "f4,ctrl+r", "retry", "Retry",
            "retry the last response (the old one is kept as an alternative)", GAME, footer=3),
    KeySpec("chat.swipe_prev", "f5", "swipe(-1)", "◀Swipe", "previous swipe of the last reply",
            ("chat",), footer=4),
    KeySpec("chat.swipe_next", "f6", "swipe(1)", "Swipe▶",
            "next swipe of the last reply (past the last one: a new one)", ("chat",), footer=5),
    KeySpec("adventure.undo", "f6", "undo", "Undo", "undo a whole turn", ("adventure",),
            footer=4),
    KeySpec("adventure.redo", "f7", "redo", "Redo", "redo the turn undone last",
            ("adventure",), footer=12),
    KeySpec("chat.impersonate", "f7", "impersonate", "Impers.",
            "impersonate: the model writes your next message into the input, going on from "
            "what you typed", ("chat",),
            footer=6),
    KeySpec("adventure.world", "f5,ctrl+n", "world_panel", "World",
            "show/hide the world panel (place, items, quests)",
            ("adventure",), footer=15),
    KeySpec("chat.world", "ctrl+n", "world_panel", "World",
            "world state: a chat has none (says so)", ("chat",)),
    KeySpec("game.edit", "f8", "edit_last", "Edit", "edit the last response", GAME, footer=11),
    KeySpec("game.lore", "f9,ctrl+l", "world_info", "Lore",
            "world info: list, search, add, edit, toggle, test what a text triggers", GAME,
            footer=8),
    KeySpec("game.context", "f10,ctrl+t", "context", "Context",
            "context inspector: the exact next prompt, segment by segment", GAME, footer=14),
    KeySpec("game.models", "f11,ctrl+o", "models", "Models",
            "models: the catalog, downloads, or any local .gguf file", GAME, footer=9),
    KeySpec("game.settings", "f12,ctrl+p", "settings", "Settings",
            "settings: sampler preset and values, window, template, backend", GAME, footer=10),
    KeySpec("game.save", "ctrl+s", "save", "Save", "save now", GAME),
    # --- world info ----------------------------------------------------------------------------
    KeySpec("world_info.edit", "enter", "select_cursor", "Edit", "edit the entry",
            ("world_info.table",), footer=1),
    KeySpec("world_info.add", "a,insert", "add", "Add", "add an entry", ("world_info",),
            footer=2),
    KeySpec("world_info.delete", "d,delete", "delete", "Delete", "delete the entry",
            ("world_info",), footer=3),
    KeySpec("world_info.toggle", "space", "toggle", "On/off", "turn the entry on or off",
            ("world_info",), footer=4),
    KeySpec("world_info.search", "slash", "search", "Search", "search the entries",
            ("world_info",), footer=5),
    KeySpec("world_info.test", "f5", "test_box", "Test",
            "test which entries a text triggers", ("world_info",), footer=6),
    KeySpec("world_info.back", "escape", "back", "Back", "back to the game", ("world_info",),
            footer=0),
    # --- context inspector ---------------------------------------------------------------------
    KeySpec("context.close", "escape", "close", "Close", "close the inspector", ("context",),
            footer=0),
    KeySpec("context.rebuild", "f5", "rebuild", "Rebuild", "build the prompt again",
            ("context",), footer=1),
    KeySpec("context.lore", "l", "jump('lore')", "Lore", "jump to the world info",
            ("context",), footer=2),
    KeySpec("context.prompt", "p", "jump('prompt')", "Prompt", "jump to the prompt text",
            ("context",), footer=3),
    KeySpec("context.top", "t", "jump('summary')", "Top", "jump to the top", ("context",),
            footer=4),
    # --- models --------------------------------------------------------------------------------
    KeySpec("models.pick", "enter", "select_cursor", "Pick", "use the model",
            ("models.table",), footer=0),
    KeySpec("models.download", "f5", "download", "Download", "download the model",
            ("models",), footer=1),
    KeySpec("models.remove", "x,delete", "remove", "Remove", "remove a downloaded model",
            ("models",), footer=2),
    KeySpec("models.open_file", "o", "open_file", "Open file", "open a local .gguf file",
            ("models",), footer=3),
    KeySpec("models.use_case", "u", "next_use_case", "Use case",
            "show the next use case's recommendations", ("models",), footer=4),
    KeySpec("models.back", "escape", "back", "Back/Cancel",
            "back (or cancel the download)", ("models",), footer=5),
    # --- settings ------------------------------------------------------------------------------
    KeySpec("settings.save", "ctrl+s", "save", "Save", "keep the settings", ("settings",),
            footer=1),
    KeySpec("settings.next", "tab", "app.focus_next", "Next", "the next field",
            ("settings",), priority=True),
    KeySpec("settings.save_preset", "f2", "save_preset", "Save preset",
            "save the samplers as a named preset", ("settings",), footer=2),
    KeySpec("settings.cancel", "escape", "cancel", "Cancel", "leave without changing",
            ("settings",), footer=3),
    # --- dialogs -------------------------------------------------------------------------------
    # Actions that read what was typed are not priority bindings: a priority key runs before
    # the keys typed just ahead of it reach their widget (a burst would be saved cut short).
    # Keys that move the focus are: the keys typed after them go to the new field.
    KeySpec("edit.save", "ctrl+s", "save", "Save", "keep the text", ("text_edit",), footer=1),
    KeySpec("edit.cancel", "escape", "cancel", "Cancel", "leave it unchanged", ("text_edit",),
            footer=2),
    KeySpec("help.close", "escape,f1,q,enter", "close", "Close", "close the help", ("help",),
            footer=1),
    KeySpec("pick.cancel", "escape", "cancel", "Cancel", "cancel starting the game",
            ("option_pick", "question"), footer=1),
    KeySpec("confirm.yes", "y,enter", "answer(True)", "Yes", "yes", ("confirm",), footer=1),
    KeySpec("confirm.no", "n,escape", "answer(False)", "No", "no", ("confirm",), footer=2),
    KeySpec("open_model.use", "ctrl+s", "use", "Use", "use the file", ("open_model",),
            footer=1),
    KeySpec("open_model.cancel", "escape", "cancel", "Cancel", "cancel", ("open_model",),
            footer=2),
    KeySpec("lore_entry.save", "ctrl+s", "save", "Save", "keep the entry", ("lore_entry",),
            footer=1),
    KeySpec("lore_entry.next", "tab", "app.focus_next", "Next", "the next field",
            ("lore_entry",), priority=True),
    KeySpec("lore_entry.cancel", "escape", "cancel", "Cancel", "leave it unchanged",
            ("lore_entry",), footer=2),
)

BY_ID: dict[str, KeySpec] = {spec.id: spec for spec in KEYS}

# The README's groups, in order; a binding is listed under the group of its first screen.
GROUPS: dict[str, str] = {
    "game": "In a game (adventure and chat)",
    "adventure": "Adventure only",
    "chat": "Chat only",
    "app": "Everywhere",
    "home": "Home screen",
    "world_info": "World info (F9)",
    "world_info.table": "World info (F9)",
    "context": "Context inspector (F10)",
    "models": "Models (F11)",
    "models.table": "Models (F11)",
    "settings": "Settings (F12)",
    "text_edit": "Text editor (memory, note, last response)",
    "help": "Help (F1)",
    "option_pick": "Starting a scenario",
    "question": "Starting a scenario",
    "confirm": "Yes/no questions",
    "open_model": "Open a model file",
    "lore_entry": "World-info entry editor",
}


def specs_for(screen: str) -> list[KeySpec]:
    return [spec for spec in KEYS if screen in spec.screens]


def bindings_for(screen: str) -> list[Binding]:
    """The `BINDINGS` of a screen (or widget), made from the table."""
    return [
        Binding(spec.keys, spec.action, spec.label, show=spec.footer is not None,
                priority=spec.priority, tooltip=spec.help, id=spec.id)
        for spec in specs_for(screen) if spec.bindable
    ]


def footer_rank(binding_id: str | None) -> int:
    """Where a binding goes in the footer: lower first; unknown bindings go last."""
    spec = BY_ID.get(binding_id or "")
    if spec is None or spec.footer is None:
        return 1000
    return spec.footer


# --- how keys are written ------------------------------------------------------------------

_NAMES = {
    "escape": "Esc", "enter": "Enter", "tab": "Tab", "space": "Space", "slash": "/",
    "delete": "Del", "insert": "Ins", "backspace": "Backspace", "pageup": "PgUp",
    "pagedown": "PgDn", "up": "↑", "down": "↓", "left": "←", "right": "→", "home": "Home",
    "end": "End", "question_mark": "?", "comma": ",", "full_stop": ".", "minus": "-",
    "plus": "+", "equals_sign": "=",
}


def key_label(key: str, short: bool = False) -> str:
    """`f4` → `F4`, `ctrl+r` → `Ctrl+R` (short: `^R`), `escape` → `Esc`."""
    *mods, name = key.strip().split("+")
    if re.fullmatch(r"f\d{1,2}", name):
        shown = name.upper()
    elif name in _NAMES:
        shown = _NAMES[name]
    elif len(name) == 1:
        shown = name.upper() if mods else name
    else:
        shown = name.replace("_", " ")
    if short and mods == ["ctrl"]:
        return "^" + shown
    return "+".join([*(m.capitalize() for m in mods), shown])


def keys_label(keys: str, short: bool = False) -> str:
    """`f4,ctrl+r` → `F4, Ctrl+R`."""
    return ", ".join(key_label(k, short) for k in keys.split(",") if k.strip())


def effective_keys(spec: KeySpec, keymap: Mapping[str, str]) -> str:
    return keymap.get(spec.id, spec.keys) if spec.bindable else spec.keys


def help_rows(screen: str, keymap: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(keys, what they do) for the F1 help of `screen`, with the player's keymap applied."""
    keymap = keymap or {}
    return [(keys_label(effective_keys(spec, keymap)), spec.help) for spec in specs_for(screen)]


def first_key(spec_id: str, keymap: Mapping[str, str] | None = None) -> str | None:
    """The first key of a binding as the player sees it (`F6`), for hints in messages."""
    spec = BY_ID.get(spec_id)
    if spec is None:
        return None
    keys = effective_keys(spec, keymap or {})
    first = keys.split(",")[0].strip()
    return key_label(first) if first else None


# --- which keys arrive over SSH ------------------------------------------------------------

_SSH_NAMED = {"escape", "enter", "tab", "space", "backspace", "delete", "insert", "up", "down",
              "left", "right", "home", "end", "pageup", "pagedown"}
# Ctrl+letter the terminal turns into another key (Tab, Enter, Backspace, newline, Esc).
_CTRL_ALIASES = {"i", "m", "h", "j"}


def arrives_over_ssh(key: str) -> bool:
    """True for keys every terminal sends through SSH: F1-F12, Ctrl+letter, Esc, Tab, Enter,
    plain printable keys. Shift/Ctrl with Enter, Alt/Super combinations and the like are
    not reliable (many terminals send the same bytes as without the modifier, or nothing)."""
    *mods, name = key.strip().split("+")
    if not mods:
        if re.fullmatch(r"f\d+", name):
            return bool(re.fullmatch(r"f([1-9]|1[0-2])", name))
        return name in _SSH_NAMED or len(name) == 1 or name.isidentifier()
    return (mods == ["ctrl"] and len(name) == 1 and name.isalpha()
            and name not in _CTRL_ALIASES)


# --- the README's table ----------------------------------------------------------------------

README_START = "<!-- keys: generated by `python -m tui.keys`; edit tui/keys.py -->"
README_END = "<!-- end of keys -->"


def _group(spec: KeySpec) -> str:
    return GROUPS["game"] if spec.screens == GAME else GROUPS[spec.screens[0]]


def readme_table() -> str:
    """The README's key table, one row per binding, grouped by screen."""
    grouped: dict[str, list[KeySpec]] = {title: [] for title in GROUPS.values()}
    for spec in KEYS:
        grouped[_group(spec)].append(spec)
    lines = ["| keys | does | id |", "| --- | --- | --- |"]
    for title, specs in grouped.items():
        if not specs:
            continue
        lines.append(f"| **{title}** | | |")
        for spec in specs:
            ident = f"`{spec.id}`" if spec.bindable else "(not remappable)"
            keys = keys_label(spec.keys).replace("|", "\\|")
            lines.append(f"| {keys} | {spec.help} | {ident} |")
    return "\n".join(lines)


def readme_with_table(readme: str) -> str:
    """`readme` with the text between the key-table markers replaced by `readme_table()`."""
    start = readme.index(README_START) + len(README_START)
    end = readme.index(README_END)
    return readme[:start] + "\n" + readme_table() + "\n" + readme[end:]


def main() -> None:
    """`python -m tui.keys`: rewrite the README's key table from the data."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "README.md"
    text = path.read_text(encoding="utf-8")
    updated = readme_with_table(text)
    if updated != text:
        path.write_text(updated, encoding="utf-8")
        print(f"{path.name}: key table updated")
    else:
        print(f"{path.name}: key table up to date")


if __name__ == "__main__":
    main()
