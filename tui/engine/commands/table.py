"""The one table of commands: every slash command and every key action is defined here once.

Each row says the command's name and aliases, its arguments, which games it applies to,
whether it needs the model idle, a line of help, and the engine call it makes. `/help` in
every front-end and the F1 help are generated from it. See docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.engine.commands import chat, room, story, world
from tui.engine.commands.context import ADVENTURE, CHAT, MODES, CommandContext, Handler
from tui.engine.commands.effects import Effect, OpenScreen

BOTH = frozenset(MODES)
CHAT_ONLY = frozenset({CHAT})
ADVENTURE_ONLY = frozenset({ADVENTURE})


@dataclass(frozen=True)
class CommandSpec:
    name: str
    run: Handler
    help: str
    args: str = ""  # the arguments, for the usage line: "N", "[TEXT|on|off]"
    aliases: tuple[str, ...] = ()
    modes: frozenset[str] = BOTH
    needs_idle: bool = True  # refused while the model writes

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".rstrip()


def show_help(ctx: CommandContext, arg: str) -> list[Effect]:
    return [OpenScreen("help", tuple(help_lines(ctx.mode)))]


TABLE: tuple[CommandSpec, ...] = (
    CommandSpec("retry", story.retry, "regenerate the last response (chat: a new swipe)",
                aliases=("r",)),
    CommandSpec("undo", story.undo, "take back the last turn", aliases=("u",)),
    CommandSpec("redo", story.redo, "bring back a turn you undid"),
    CommandSpec("continue", story.continue_,
                "let the story go on without an action (or send an empty line)"),
    CommandSpec("edit", story.edit,
                "replace the last response (chat: message); without TEXT, show it to edit",
                args="[TEXT]"),
    CommandSpec("swipe", chat.swipe, "another reply: next (past the last: a new one), prev, N",
                args="[next|prev|N]", modes=CHAT_ONLY),
    CommandSpec("delete", chat.delete, "delete message N (a reply with all its swipes)",
                args="N", modes=CHAT_ONLY),
    CommandSpec("messages", chat.messages, "list the messages with their numbers",
                modes=CHAT_ONLY, needs_idle=False),
    CommandSpec("impersonate", chat.impersonate,
                "let the model write your next message (going on from TEXT)", args="[TEXT]",
                modes=CHAT_ONLY),
    CommandSpec("send", chat.send, "send TEXT, or what /impersonate wrote", args="[TEXT]",
                modes=CHAT_ONLY),
    CommandSpec("persona", chat.persona, "who you are ({{user}}); without NAME, show it",
                args="[NAME[: description]]", modes=CHAT_ONLY),
    CommandSpec("memory", story.field_command("memory"),
                "facts the model always sees: set TEXT, or show it to edit", args="[TEXT]"),
    CommandSpec("note", story.field_command("note"),
                "the author's note (style, direction): set TEXT, or show it to edit",
                args="[TEXT]"),
    CommandSpec("summary", story.summary,
                "the story so far (long-term memory): show/edit, set TEXT, or turn on|off",
                args="[TEXT|on|off]"),
    CommandSpec("state", world.state,
                "the world state (place, inventory, people, quests, facts); turn the model's "
                "updates on|off", args="[on|off]", modes=ADVENTURE_ONLY, needs_idle=False),
    CommandSpec("where", world.where, "where you are, the known exits and who is there",
                modes=ADVENTURE_ONLY, needs_idle=False),
    CommandSpec("inv", world.inventory, "what you carry; add or drop an item (a correction)",
                args="[add|drop ITEM]", aliases=("i",), modes=ADVENTURE_ONLY, needs_idle=False),
    CommandSpec("people", world.people, "the people met: where, attitude, alive",
                modes=ADVENTURE_ONLY, needs_idle=False),
    CommandSpec("quests", world.quests, "open and finished quests", modes=ADVENTURE_ONLY,
                needs_idle=False),
    CommandSpec("quest", world.quest, "add a quest or mark one done", args="add|done TEXT",
                modes=ADVENTURE_ONLY, needs_idle=False),
    CommandSpec("move", world.move, "correct where you are (an exit's name, or any place)",
                args="PLACE", modes=ADVENTURE_ONLY, needs_idle=False),
    CommandSpec("fact", world.fact, "set a free-form fact (empty VALUE forgets it)",
                args="[KEY = VALUE]", modes=ADVENTURE_ONLY, needs_idle=False),
    CommandSpec("lore", story.lore, "attach a lorebook FILE, or open the world info",
                args="[FILE]"),
    CommandSpec("context", story.screen("context"),
                "show the exact prompt of the next turn and what went in", needs_idle=False),
    CommandSpec("models", story.screen("models"), "pick or download a model (TUI)",
                needs_idle=False),
    CommandSpec("settings", story.screen("settings"),
                "sampler preset, window, template, backend (TUI)", needs_idle=False),
    CommandSpec("save", story.save, "save now (the game also saves after every turn)",
                needs_idle=False),
    CommandSpec("room", room.room, "grue serve: play together: open [NAME] from this "
                "adventure, join NAME, leave, who; the host: kick PLAYER, undo",
                args="open|join|leave|who|kick|undo", modes=ADVENTURE_ONLY),
    CommandSpec("help", show_help, "list the commands", aliases=("h", "?"), needs_idle=False),
    CommandSpec("quit", story.quit_, "save and leave", aliases=("q", "exit"), needs_idle=False),
)

COMMANDS: dict[str, CommandSpec] = {spec.name: spec for spec in TABLE}
ALIASES: dict[str, str] = {alias: spec.name for spec in TABLE for alias in spec.aliases}


def help_rows(mode: str | None = None) -> list[tuple[str, str]]:
    """(usage, help) of every command of this mode (`ADVENTURE` or `CHAT`; None: of every
    mode, for a help shown outside a game), in table order."""
    return [(spec.usage, spec.help) for spec in TABLE if mode is None or mode in spec.modes]


def help_lines(mode: str | None = ADVENTURE) -> list[str]:
    rows = help_rows(mode)
    width = max(len(usage) for usage, _ in rows)
    return [f"{usage:<{width}}  {text}" for usage, text in rows]
