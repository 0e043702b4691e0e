"""A shared adventure on screen (`grue serve`): the room's story, the input line and who is
here. Nothing is decided here: actions and `/room` commands go to the room service
(`serve/room_client.py`), and the story is drawn from the events it broadcasts, in the order
they come, so every member sees the same story (docs/architecture.md, "grue serve").
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from typing import Any

from textual.app import App, ComposeResult
from textual.message import Message
from textual.screen import Screen

from tui.core.text import clean, one_line
from tui.engine.actions import split_prefix
from tui.engine.commands import RoomRequest, UnknownCommand, parse_command
from tui.engine.commands.room import USAGE
from tui.engine.game import Game
from tui.keys import bindings_for
from tui.screens.guard import guarded
from tui.serve.room_client import RoomClient, RoomError, rooms_socket
from tui.widgets.action_bar import ActionBar
from tui.widgets.key_footer import KeyFooter
from tui.widgets.status_bar import StatusBar
from tui.widgets.story_view import StoryView

FLUSH_SECONDS = 0.05  # the room's events are drawn in batches, as a local turn's text is
NOT_SERVED = "rooms are played on a grue serve server (ssh to one to play together)"
IN_NO_ROOM = "you are in no room: /room open [NAME] or /room join NAME"
IN_A_ROOM = "in a room: type an action, or /room leave | who | kick PLAYER | undo"


@dataclass
class RoomGone(Message):
    """The room ended for this player (left, sent away, or the service went away)."""

    why: str


UNANSWERED_KEPT = 8  # actions sent whose refusal may still come back (a burst's worth)


class RoomScreen(Screen[None]):
    KEY_SCREEN = "adventure"  # the adventure's keys; those that change the story are the host's
    BINDINGS = bindings_for(KEY_SCREEN)

    def __init__(self, client: RoomClient) -> None:
        super().__init__()
        self.client = client
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.live = False  # a turn is being written
        self.taker = ""  # who is taking it
        self.left = False
        # Actions sent, by request id (the newest few): a refusal puts the line back.
        self.unanswered: dict[int, str] = {}
        client.on_event = self.events.put  # from the client's reader thread, in order

    def compose(self) -> ComposeResult:
        yield StoryView(id="story")
        yield ActionBar(refuses=self.refuses_line)
        yield StatusBar()
        yield KeyFooter()

    @property
    def story(self) -> StoryView:
        return self.query_one(StoryView)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    def on_mount(self) -> None:
        self.title = f"room {self.client.room}"
        self.status.set(model=f"room {self.client.room}", state="joining…")
        self.query_one(ActionBar).input.focus()
        self.set_interval(FLUSH_SECONDS, self.draw_events)

    # --- the room's events ------------------------------------------------------------------

    def draw_events(self) -> None:
        """Draw what arrived since the last flush, in order; streamed pieces side by side
        are appended at once."""
        pieces: list[str] = []
        while not self.left:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            if event.get("ev") == "text":
                pieces.append(clean(str(event.get("text", ""))))
                continue
            self._append_live(pieces)
            self.draw(event)
        self._append_live(pieces)

    def _append_live(self, pieces: list[str]) -> None:
        if pieces and self.live:
            self.story.append_live("".join(pieces))
        pieces.clear()

    def draw(self, event: dict[str, Any]) -> None:
        kind = event.get("ev")
        text = clean(str(event.get("text", "")))
        if kind == "joined":
            self.joined(event)
        elif kind == "members":
            self.show_members(event)
        elif kind == "turn":
            by = one_line(str(event.get("by", "")), 40)
            self.story.add_action(clean(str(event.get("action", ""))))
            self.story.start_live()
            self.live, self.taker = True, by
            self.status.set(state=f"{by} is taking a turn…")
        elif kind in ("done", "failed"):
            if self.live:
                self.story.finish_live(text.strip() or None if kind == "done" else None)
            self.live, self.taker = False, ""
            if kind == "failed":
                self.redraw(event)
                self.notify(one_line(text, 300), severity="error", markup=False)
            self.status.set(state="your turn, or anyone's")
        elif kind == "story":
            self.redraw(event)
            self.notify(one_line(text, 200), markup=False)
        elif kind == "refused":
            self.notify(one_line(text, 300), severity="warning", markup=False)
            self.restore_refused(event.get("id"))
        elif kind == "notice":
            self.notify(one_line(text, 200), markup=False)
        elif kind == "who":
            self.show_members(event, say=True)
        elif kind == "kicked":
            self.leave(f"{one_line(str(event.get('by', '')), 40)} sent you away from the room")
        elif kind == "gone":
            self.leave(one_line(text, 200))

    def restore_refused(self, number: object) -> None:
        """A refused action ("Ana is taking a turn") goes back into the input, so the player
        sends it again with Enter instead of typing it again."""
        line = self.unanswered.pop(number, None) if isinstance(number, int) else None
        self.query_one(ActionBar).keep_refused(line or "")

    def joined(self, event: dict[str, Any]) -> None:
        self.redraw(event)
        self.show_members(event)
        taker, live = event.get("taker"), [clean(str(p)) for p in event.get("live") or []]
        if taker and live:  # a turn half written: its action and its text so far
            self.story.add_action(live[0])
            self.story.start_live()
            self.story.append_live("".join(live[1:]))
            self.live = True
            self.status.set(state=f"{one_line(str(taker), 40)} is taking a turn…")
        else:
            self.status.set(state="your turn, or anyone's")

    def redraw(self, event: dict[str, Any]) -> None:
        blocks = [(clean(str(text)), str(kind)) for text, kind in event.get("blocks") or []]
        self.live = False
        self.story.show_blocks(blocks)

    def show_members(self, event: dict[str, Any], say: bool = False) -> None:
        host = one_line(str(event.get("host", "")), 40)
        names = [one_line(str(n), 40) + (" (host)" if n == host else "")
                 for n in event.get("members") or []]
        line = f"room {self.client.room} · {', '.join(names)}"
        self.status.set(model=one_line(line, 70))
        if say:
            self.notify(one_line(f"In room {self.client.room}: {', '.join(names)}", 300),
                        markup=False)

    # --- input ------------------------------------------------------------------------------

    def refuses_line(self, line: str) -> bool:
        """An action while a turn is written is refused as Enter is read, as the room would
        refuse it: it stays in the input, and the keys behind it land after it. An unknown
        command stays too, to be mended."""
        try:
            if parse_command(line) is not None or not self.live:
                return False
        except UnknownCommand as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return True
        self.notify(f"{self.taker or 'someone'} is taking a turn", severity="warning",
                    markup=False)
        return True

    @guarded
    def on_action_bar_submitted(self, message: ActionBar.Submitted) -> None:
        line = message.text
        try:
            command = parse_command(line)
        except UnknownCommand as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        if command is None:
            mode, raw = split_prefix(line, message.mode)
            number = self.client.request("act", mode=mode.value, text=raw)
            if number is not None:
                self.unanswered[number] = line
                for old in list(self.unanswered)[:-UNANSWERED_KEPT]:
                    del self.unanswered[old]
        elif command.name == "room":
            self.room_command(command.arg)
        elif command.name == "help":
            self.notify(f"{IN_A_ROOM}\n{USAGE}", timeout=15, markup=False)
        elif command.name == "quit":
            self.action_home()
        else:
            self.notify(IN_A_ROOM, severity="warning", markup=False)

    def room_command(self, arg: str) -> None:
        verb, _, rest = arg.strip().partition(" ")
        verb = verb.lower()
        if verb == "leave":
            self.action_home()
        elif verb in ("who", "undo"):
            self.client.request(verb)
        elif verb == "kick" and rest.strip():
            self.client.request("kick", name=rest.strip())
        elif verb in ("open", "join"):
            self.notify(f"you are in room {self.client.room}: /room leave first",
                        severity="warning")
        else:
            self.notify(f"usage: {USAGE}", severity="warning", markup=False)

    # --- keys -------------------------------------------------------------------------------

    @guarded
    def action_cycle_mode(self) -> None:
        self.query_one(ActionBar).cycle_mode()

    @guarded
    def action_undo(self) -> None:
        self.client.request("undo")

    @guarded
    def action_continue(self) -> None:
        self.client.request("act", mode="continue", text="")

    @guarded
    def action_help(self) -> None:
        self.notify(f"{IN_A_ROOM}\n{USAGE}", timeout=15, markup=False)

    @guarded
    def action_home(self) -> None:
        """Ctrl+Q or /room leave: out of the room, back to the adventure it was opened from."""
        self.client.request("leave")
        self.leave("you left the room")

    def on_unmount(self) -> None:
        """Taken down some other way (going home, a hang-up): out of the room too."""
        if not self.left:
            self.left = True
            self.client.request("leave")
            self.client.close()

    def leave(self, why: str) -> None:
        if self.left:
            return
        self.left = True
        self.client.close()
        self.app.notify(why, markup=False)
        if self.app.screen is self:
            self.app.pop_screen()


def enter_room(app: App[Any], game: Game, request: RoomRequest) -> None:
    """`/room open|join` from an adventure: open the room (from a copy of this adventure,
    saved first) or join it, then show it over the adventure. Other verbs: in no room."""
    path = rooms_socket()
    if path is None:
        app.notify(NOT_SERVED, severity="warning")
        return
    if request.verb not in ("open", "join"):
        app.notify(IN_NO_ROOM, severity="warning")
        return
    save = None
    if request.verb == "open":
        save = game.save()  # the room starts from this adventure as it is now
        game.flush_saves(30.0)
    client = RoomClient(path)
    screen = RoomScreen(client)  # listening before the first event comes
    try:
        client.enter(request.verb, request.arg, save)
    except RoomError as exc:
        app.notify(one_line(str(exc), 300), severity="warning", markup=False)
        return
    app.push_screen(screen)
