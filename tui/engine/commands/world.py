"""World-state commands (docs/architecture.md, "World state"): show the state, and correct it.

A correction is one more change of the newest turn's chosen take, like the model's own: undo
takes it back with the turn, a retry or swipe leaves it with the take it corrected, and it is
saved at once. A name may be given by any unique part of it (`/inv drop lantern`).
"""

from __future__ import annotations

from tui.core.text import one_line
from tui.engine.commands.context import CommandContext
from tui.engine.commands.effects import Done, Effect, Notice, Print, StillWriting
from tui.engine.world import (
    AddItem,
    AddQuest,
    Change,
    DropItem,
    FinishQuest,
    Move,
    SetFact,
    describe,
)
from tui.engine.world import history as world_history
from tui.engine.world.prompt import place_line, report_lines
from tui.engine.world.state import MAX_NAME, MAX_TEXT, WorldState, index_of


def _state(ctx: CommandContext) -> WorldState:
    return ctx.game.campaign.world_state()


def resolve(names: list[str], word: str) -> str:
    """The name in `names` that `word` means: itself in any case, else the one name that
    holds it; otherwise `word` (validation then names the problem)."""
    if index_of(names, word) is not None:
        return word
    found = [n for n in names if word.casefold() in n.casefold()]
    return found[0] if len(found) == 1 else word


def change(ctx: CommandContext, *changes: Change) -> list[Effect]:
    """Apply, save, and say the one quiet line (or why nothing changed). Refused while the
    model writes: its turn is not in the story yet, so the change would land on the last."""
    if ctx.busy:
        return [StillWriting()]
    done, refused = world_history.record(ctx.game.campaign, list(changes))
    if not done:
        return [Notice(f"not changed: {refused[0] if refused else 'nothing to do'}",
                       "warning")]
    ctx.game.save()
    return [Done(f"{describe(done)} · {ctx.game.saved_word}")]


def where(ctx: CommandContext, arg: str) -> list[Effect]:
    state = _state(ctx)
    lines = [place_line(state)]
    present = ", ".join(p.name for p in state.present())
    if present:
        lines.append(f"Present: {present}")
    return [Print(tuple(lines))]


def inventory(ctx: CommandContext, arg: str) -> list[Effect]:
    word, _, rest = arg.partition(" ")
    item = one_line(rest, MAX_NAME)
    if word.lower() == "add" and item:
        return change(ctx, AddItem(item))
    if word.lower() == "drop" and item:
        return change(ctx, DropItem(resolve(_state(ctx).items, item)))
    if arg:
        return [Notice("usage: /inv, /inv add ITEM, /inv drop ITEM")]
    items = _state(ctx).items
    return [Print((f"Carrying: {', '.join(items) or 'nothing'}",))]


def people(ctx: CommandContext, arg: str) -> list[Effect]:
    state = _state(ctx)
    if not state.people:
        return [Print(("no one met yet",))]
    lines = []
    for p in state.people:
        bits = [b for b in (p.attitude, f"at {p.where}" if p.where else "",
                            "" if p.alive else "dead") if b]
        lines.append(f"{p.name}" + (f" ({', '.join(bits)})" if bits else ""))
    return [Print(tuple(lines))]


def quests(ctx: CommandContext, arg: str) -> list[Effect]:
    if arg:
        return quest(ctx, arg)
    state = _state(ctx)
    lines = [f"open: {q}" for q in state.quests] + [f"done: {q}" for q in state.done]
    return [Print(tuple(lines) or ("no quests",))]


def quest(ctx: CommandContext, arg: str) -> list[Effect]:
    word, _, rest = arg.partition(" ")
    text = one_line(rest, MAX_NAME)
    if word.lower() == "add" and text:
        return change(ctx, AddQuest(text))
    if word.lower() == "done" and text:
        return change(ctx, FinishQuest(resolve(_state(ctx).quests, text)))
    if not arg:
        return quests(ctx, "")
    return [Notice("usage: /quest add TEXT, /quest done TEXT")]


def move(ctx: CommandContext, arg: str) -> list[Effect]:
    place = one_line(arg, MAX_NAME)
    if not place:
        return where(ctx, "")
    state = _state(ctx)
    return change(ctx, Move(resolve(state.exits, place)))


def fact(ctx: CommandContext, arg: str) -> list[Effect]:
    key, eq, value = arg.partition("=")
    key = one_line(key, MAX_NAME)
    if not key or not eq:
        state = _state(ctx)
        if key and not eq:
            found = state.fact_key(key)
            return [Print((f"{found} = {state.facts[found]}" if found else f"no fact {key}",))]
        lines = tuple(f"{k} = {v}" for k, v in sorted(state.facts.items()))
        return [Print(lines or ("no facts (/fact KEY = VALUE)",))]
    return change(ctx, SetFact(key, one_line(value, MAX_TEXT)))


def state(ctx: CommandContext, arg: str) -> list[Effect]:
    """Show the state; `on`/`off` turns the model's updates after each narration on or off."""
    word = arg.strip().lower()
    if word in ("on", "off"):
        ctx.game.campaign.settings.world_updates = word == "on"
        ctx.game.save()
        return [Notice(f"state updates by the model {word}")]
    lines = report_lines(_state(ctx))
    updates = "on" if ctx.game.campaign.settings.world_updates else "off"
    return [Print((*lines, f"(state updates by the model: {updates}; /state on|off)"))]
