"""Shared adventures of `grue serve` (issue 11 item 4): the room service with members over
its socket, on a scripted model and on the real SmolLM2 shared model process
(docs/architecture.md, "grue serve")."""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeBackend

from tui.core.backend import Backend
from tui.engine.campaign import Settings, Turn, campaign_from_scenario
from tui.engine.saves import list_saves, load_save, write_save
from tui.engine.saves.lock import release
from tui.engine.scenario import find_scenario
from tui.serve.room_client import RoomClient, RoomError
from tui.serve.room_protocol import by_player, player_name, room_name
from tui.serve.rooms import RoomService

WAIT = 60.0  # generous: a behaviour check, not a timing
REPLIES = ["The door swings open onto a hall.", "A bell rings somewhere above."]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="grue-", dir="/tmp") as folder:
        yield Path(folder)


class Member:
    """A game in a room: every event it was sent, in order."""

    def __init__(self, path: Path, player: str, name: str) -> None:
        self.client = RoomClient(path, player, name)
        self.events: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        self.client.on_event = self._add

    def _add(self, event: dict[str, Any]) -> None:
        with self.arrived:
            self.events.append(event)
            self.arrived.notify_all()

    def wait(self, check: Callable[[dict[str, Any]], bool], what: str,
             after: int = 0) -> dict[str, Any]:
        """The first event from `after` on that passes `check`."""
        deadline = time.monotonic() + WAIT
        with self.arrived:
            while True:
                found = next((e for e in self.events[after:] if check(e)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.client.name}: no {what} in {self.events}")
                self.arrived.wait(left)

    def turns_done(self, n: int) -> None:
        self.wait(lambda e: sum(x.get("ev") == "done" for x in self.events) >= n,
                  f"{n} turns done")

    def story_events(self) -> list[tuple[Any, ...]]:
        """What the story shows, as it came: turns, pieces, ends (not who is here)."""
        return [(e["seq"], e["ev"], e.get("action") or e.get("text")) for e in self.events
                if e.get("ev") in ("turn", "text", "done", "failed", "story")]


def a_save(home: Path) -> Path:
    campaign = campaign_from_scenario(find_scenario("lantern-road"), Settings(n_ctx=2048))
    campaign.turns.append(Turn("do", "> You walk on.", ["The lantern flickers."]))
    folder = write_save(campaign, home / "saves")
    release(folder)
    return folder


class Rooms:
    def __init__(self, root: Path, backend_for: Callable[[str], Backend]) -> None:
        self.root = root
        self.service = RoomService(root / "rooms.sock", root / "rooms", self.home, backend_for)
        self.service.start()
        self.members: list[Member] = []

    def home(self, player: str) -> Path:
        return self.root / "players" / player

    def member(self, player: str, name: str) -> Member:
        member = Member(self.service.socket_path, player, name)
        self.members.append(member)
        return member

    def close(self) -> None:
        for member in self.members:
            member.client.close()
        self.service.stop()


@pytest.fixture
def fake_rooms(short_dir: Path) -> Iterator[Rooms]:
    rooms = Rooms(short_dir, lambda name: FakeBackend(list(REPLIES), delay=0.01))
    yield rooms
    rooms.close()


def open_and_join(rooms: Rooms) -> tuple[Member, Member]:
    ana, bo = rooms.member("fp-ana", "ana"), rooms.member("fp-bo", "Bo")
    save = a_save(rooms.home("fp-ana"))
    assert ana.client.enter("open", "Inn", save) == "inn"
    assert bo.client.enter("join", "inn") == "inn"
    joined = bo.wait(lambda e: e.get("ev") == "joined", "joined")
    assert ("The lantern flickers.", "story") in [tuple(b) for b in joined["blocks"]]
    assert joined["host"] == "Ana" and joined["members"] == ["Ana", "Bo"]
    ana.wait(lambda e: e.get("ev") == "members" and e["members"] == ["Ana", "Bo"], "Bo")
    return ana, bo


def test_two_members_get_the_same_story_in_the_same_order(fake_rooms: Rooms) -> None:
    ana, bo = open_and_join(fake_rooms)
    ana.client.request("act", mode="do", text="open the door")
    ana.turns_done(1)
    bo.client.request("act", mode="say", text="hello")
    for member in (ana, bo):
        member.turns_done(2)
    assert ana.story_events() == bo.story_events()
    shown = [text for _seq, ev, text in ana.story_events() if ev in ("turn", "done")]
    assert shown == ["> Ana opens the door.", REPLIES[0], '> Bo says "Hello."', REPLIES[1]]
    seqs = [seq for seq, _ev, _text in ana.story_events()]
    assert seqs == sorted(seqs)


def test_an_action_during_a_turn_is_refused_naming_who_takes_it(short_dir: Path) -> None:
    slow = FakeBackend(["word " * 200], delay=0.02)
    rooms = Rooms(short_dir, lambda name: slow)
    try:
        ana, bo = open_and_join(rooms)
        ana.client.request("act", mode="do", text="wait")
        bo.wait(lambda e: e.get("ev") == "turn", "Ana's turn")
        bo.client.request("act", mode="do", text="run")
        refused = bo.wait(lambda e: e.get("ev") == "refused", "a refusal")
        assert refused["text"] == "Ana is taking a turn"
        ana.turns_done(1)
        assert [e["by"] for e in ana.events if e.get("ev") == "turn"] == ["Ana"]
    finally:
        rooms.close()


def test_only_the_host_undoes_and_kicks(fake_rooms: Rooms) -> None:
    ana, bo = open_and_join(fake_rooms)
    ana.client.request("act", mode="do", text="open the door")
    bo.turns_done(1)
    bo.client.request("undo")
    assert bo.wait(lambda e: e.get("ev") == "refused", "refusal")["text"] == \
        "only the host (Ana) can undo"
    ana.client.request("undo")
    story = bo.wait(lambda e: e.get("ev") == "story", "the undo")
    assert story["text"] == "Ana took back the last turn"
    assert "> Ana opens the door." not in [b[0] for b in story["blocks"]]
    ana.client.request("kick", name="bo")
    assert bo.wait(lambda e: e.get("ev") == "kicked", "kicked")["by"] == "Ana"
    ana.wait(lambda e: e.get("ev") == "members" and e["members"] == ["Ana"], "Bo gone")
    mark = len(bo.events)
    bo.client.request("act", mode="do", text="sneak back")
    assert bo.wait(lambda e: e.get("ev") == "refused", "refusal", mark)["text"] == \
        "you are in no room"


def test_a_room_is_saved_and_opened_again_by_name(fake_rooms: Rooms) -> None:
    ana, bo = open_and_join(fake_rooms)
    ana.client.request("act", mode="do", text="open the door")
    ana.turns_done(1)
    ana.client.close()
    bo.client.close()
    folder = fake_rooms.root / "rooms" / "inn"
    deadline = time.monotonic() + WAIT
    while "inn" in fake_rooms.service.rooms and time.monotonic() < deadline:
        time.sleep(0.05)  # the last member gone: the room closes
    [summary] = list_saves(folder)
    saved = load_save(summary.path)
    assert saved.turns[-1].action == "> Ana opens the door."
    assert saved.turns[-1].response == REPLIES[0]
    # The player's own save is untouched: the room played a copy.
    [own] = list_saves(fake_rooms.home("fp-ana") / "saves")
    assert load_save(own.path).turns[-1].action == "> You walk on."

    cy = fake_rooms.member("fp-cy", "Cy")
    assert cy.client.enter("open", "inn") == "inn"  # no save needed: the room resumes
    joined = cy.wait(lambda e: e.get("ev") == "joined", "joined")
    assert ("> Ana opens the door.", "action") in [tuple(b) for b in joined["blocks"]]
    assert joined["host"] == "Cy"


def test_refusals(fake_rooms: Rooms, tmp_path: Path) -> None:
    ana = fake_rooms.member("fp-ana", "Ana")
    with pytest.raises(RoomError, match="no room inn is open"):
        ana.client.enter("join", "inn")
    with pytest.raises(RoomError, match="letters, digits"):
        ana.client.enter("open", "../etc")
    stranger = a_save(tmp_path / "elsewhere")
    with pytest.raises(RoomError, match="one of your own saves"):
        ana.client.enter("open", "inn", stranger)
    with pytest.raises(RoomError, match="no saved room"):
        ana.client.enter("open", "inn")


def test_names_and_actions_as_the_room_tells_them() -> None:
    assert by_player("> You open your bag.", "Ana") == "> Ana opens their bag."
    assert by_player("> You carry the lamp.", "Bo") == "> Bo carries the lamp."
    assert by_player("> You push the cart.", "Bo") == "> Bo pushes the cart."
    assert by_player('> You say "Are you there?"', "Cy") == '> Cy says "Are you there?"'
    assert by_player("The wind rises.", "Cy") == "The wind rises."
    assert player_name("\x1b[31m[b]evil[/b]\x07", "x") == "31mbevilb"  # no ESC, no BEL, no [markup]
    assert player_name("\x1b\x07", "player-1") == "player-1"
    assert room_name("Inn") == "inn" and room_name("../x") is None and room_name("") is None


def test_a_room_on_the_real_shared_model(smol_path: Path, short_dir: Path) -> None:
    """Two members, the real SmolLM2 behind the shared model process: the same pieces in the
    same order, and the room's campaign holds what they saw."""
    from test_serve_shared import start_model

    from tui.backends.shared import SharedBackend

    proc = start_model(smol_path, short_dir)
    rooms = Rooms(short_dir, lambda name: SharedBackend(short_dir / "model.sock",
                                                         player=f"room:{name}"))
    try:
        ana, bo = open_and_join(rooms)
        ana.client.request("act", mode="do", text="look around")
        for member in (ana, bo):
            member.turns_done(1)
        assert ana.story_events() == bo.story_events()
        pieces = "".join(t for _s, ev, t in ana.story_events() if ev == "text")
        done = next(e for e in bo.events if e.get("ev") == "done")
        assert done["text"] and done["text"] in pieces.strip() + done["text"]
        room = rooms.service.rooms["inn"]
        assert room.game.campaign.turns[-1].response == done["text"]
    finally:
        rooms.close()
        proc.kill()
        proc.wait()


# --- /room in the command table, the TUI and line mode --------------------------------------


def test_the_room_command_checks_its_words_and_is_for_adventures(tmp_path: Path) -> None:
    from tui.engine.character_library import load_character
    from tui.engine.chat import campaign_from_card, game_for
    from tui.engine.commands import (
        ADVENTURE,
        CHAT,
        Command,
        CommandContext,
        Notice,
        RoomRequest,
        run_command,
    )
    from tui.engine.game import Game

    game = Game(campaign_from_scenario(find_scenario("lantern-road")))
    ctx = CommandContext(game, ADVENTURE)
    assert run_command(ctx, Command("room", "open")) == \
        [RoomRequest("open", "the-lantern-road")]
    assert run_command(ctx, Command("room", "JOIN inn")) == [RoomRequest("join", "inn")]
    [usage] = run_command(ctx, Command("room", "join"))
    assert isinstance(usage, Notice) and usage.text == "usage: /room join NAME"
    [usage] = run_command(ctx, Command("room", "dance"))
    assert isinstance(usage, Notice) and usage.text.startswith("usage: /room open")
    chat = game_for(campaign_from_card(load_character("Maren Holloway"), "Ada"))
    [refused] = run_command(CommandContext(chat, CHAT), Command("room", "open"))
    assert isinstance(refused, Notice) and refused.text == "/room is for adventures"


def test_line_mode_says_rooms_are_played_in_the_tui(tmp_path: Path) -> None:
    import io

    from tui.engine.commands.effects import ROOMS_IN_TUI
    from tui.engine.game import Game
    from tui.plain import PlainSession

    game = Game(campaign_from_scenario(find_scenario("lantern-road")), save_folder=tmp_path)
    out, err = io.StringIO(), io.StringIO()
    PlainSession(game, FakeBackend(), out, err).handle("/room join inn")
    assert ROOMS_IN_TUI in err.getvalue()


async def test_the_tui_opens_a_room_and_draws_its_story(fake_rooms: Rooms,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        grue_home: Path) -> None:
    """An adventure's `/room open` shows the room over it; the story drawn is the room's
    events; Ctrl+Q leaves the room, back to the adventure. Outside `grue serve`: one line."""
    from test_tui_commands import notices, wait_until

    from tui.app import GrueApp
    from tui.engine.game import Game
    from tui.model_host import ModelHost
    from tui.screens.adventure import AdventureScreen
    from tui.screens.room import NOT_SERVED, RoomScreen
    from tui.serve.room_protocol import NAME_ENV, ROOMS_ENV

    game = Game(campaign_from_scenario(find_scenario("lantern-road")))
    app = GrueApp(game=game, host=ModelHost(lambda s: FakeBackend(), close_backend=False))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_until(pilot, lambda: app.screen.model_ready)
        await pilot.press(*"/room open inn", "enter")
        await wait_until(pilot, lambda: NOT_SERVED in notices(app))
        monkeypatch.setenv(ROOMS_ENV, str(fake_rooms.service.socket_path))
        monkeypatch.setenv("GRUE_PLAYER", "fp-ana")
        monkeypatch.setenv(NAME_ENV, "ana")
        # The game's home is the player's folder, as in grue serve.
        monkeypatch.setattr(fake_rooms.service, "player_home", lambda player: grue_home)
        await pilot.press(*"/room open inn", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RoomScreen))
        room = app.screen
        await wait_until(pilot, lambda: "Ana (host)" in room.status.model)
        await pilot.press(*"open the door", "enter")
        await wait_until(pilot, lambda: REPLIES[0] in shown(room))
        assert shown(room)[-2:] == ["> Ana opens the door.", REPLIES[0]]
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, AdventureScreen))
        await wait_until(pilot, lambda: "inn" not in fake_rooms.service.rooms)


def shown(screen: Any) -> list[str]:
    """The finished paragraphs: the live reply, while its removal is pending after the
    finished one took its place (one message handler, so never drawn together), is left out."""
    from tui.widgets.live_text import LiveText

    return [p.raw for p in screen.story.children
            if hasattr(p, "raw") and not isinstance(p, LiveText)]


@contextlib.asynccontextmanager
async def bo_during_anas_turn(short_dir: Path, monkeypatch: pytest.MonkeyPatch
                              ) -> AsyncIterator[tuple[Any, Any, Any]]:
    """Ana has opened the room "inn" and takes a turn the model holds; Bo, this TUI, has
    joined it: the app, its pilot and Bo's room screen, while Ana's turn is written."""
    from test_tui_commands import wait_until

    from tui.app import GrueApp
    from tui.engine.game import Game
    from tui.model_host import ModelHost
    from tui.screens.room import RoomScreen
    from tui.serve.room_protocol import NAME_ENV, ROOMS_ENV

    reply_may_go = threading.Event()  # Ana's turn stays under way until the test is done
    rooms = Rooms(short_dir, lambda name: FakeBackend(["word " * 20], gate=reply_may_go))
    try:
        ana = rooms.member("fp-ana", "ana")
        assert ana.client.enter("open", "inn", a_save(rooms.home("fp-ana"))) == "inn"
        monkeypatch.setenv(ROOMS_ENV, str(rooms.service.socket_path))
        monkeypatch.setenv("GRUE_PLAYER", "fp-bo")
        monkeypatch.setenv(NAME_ENV, "bo")
        game = Game(campaign_from_scenario(find_scenario("lantern-road")))
        app = GrueApp(game=game, host=ModelHost(lambda s: FakeBackend(), close_backend=False))
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await wait_until(pilot, lambda: app.screen.model_ready)
            await pilot.press(*"/room join inn", "enter")
            await wait_until(pilot, lambda: isinstance(app.screen, RoomScreen))
            room = app.screen
            ana.client.request("act", mode="do", text="wait")
            await wait_until(pilot, lambda: "Ana is taking" in room.status.state)
            try:
                yield app, pilot, room
            finally:
                reply_may_go.set()
                ana.turns_done(1)  # the room's save written before the folder goes
    finally:
        rooms.close()


async def test_an_action_refused_in_the_tui_comes_back_into_the_input(
        short_dir: Path, monkeypatch: pytest.MonkeyPatch, grue_home: Path) -> None:
    """Bo types while Ana's turn is written: the refusal names Ana, and Bo's words are back in
    his input, to send again with Enter (not lost, not typed again)."""
    from test_tui_commands import notices, wait_until

    from tui.widgets.action_bar import ActionBar

    async with bo_during_anas_turn(short_dir, monkeypatch) as (app, pilot, room):
        await pilot.press(*"run away", "enter")
        await wait_until(pilot, lambda: "Ana is taking a turn" in notices(app))
        await wait_until(pilot, lambda: room.query_one(ActionBar).input.value == "run away")


def test_an_action_sent_on_hearing_of_a_kick_finds_no_room(fake_rooms: Rooms) -> None:
    """The kicked player is out of the room before they are told: an action sent the moment
    "kicked" arrives (seen under load: it started a turn) is refused."""
    ana, bo = open_and_join(fake_rooms)
    service = fake_rooms.service
    [room] = service.rooms.values()
    target = next(m for m in room.members if m.name == "Bo")
    answers: list[dict[str, Any] | None] = []
    send = target.send

    def send_and_act_at_once(message: dict[str, Any]) -> None:
        if message.get("ev") == "kicked":
            answers.append(service.act(target, {"mode": "do", "text": "sneak back"}))
        send(message)

    target.send = send_and_act_at_once  # type: ignore[method-assign]
    ana.client.request("kick", name="bo")
    bo.wait(lambda e: e.get("ev") == "kicked", "kicked")
    assert answers == [{"error": "you are in no room"}]
    assert room.taker is None


async def test_lines_in_one_burst_during_anothers_turn_stay_in_the_input_in_order(
        short_dir: Path, monkeypatch: pytest.MonkeyPatch, grue_home: Path) -> None:
    """Bo types two lines in one burst while Ana's turn is written. Both went to the room and
    both were refused, but only the newest line could come back: the first was lost. Now an
    action is refused as Enter is read while a turn is written, and stays in the input."""
    from test_key_bursts import burst
    from test_tui_commands import notices

    from tui.widgets.action_bar import ActionBar

    async with bo_during_anas_turn(short_dir, monkeypatch) as (app, pilot, room):
        burst(app, "run away", "<enter>", "hide", "<enter>", " now")
        await pilot.pause(0.5)
        assert room.query_one(ActionBar).input.value == "run awayhide now"
        assert notices(app)[-2:] == ["Ana is taking a turn"] * 2
