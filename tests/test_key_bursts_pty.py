"""Keys that arrive in one burst over a real terminal (type-ahead, SSH packing keystrokes) are
all applied in order (issue "the trust pass", item 1): the TUI runs in a pty at 80x24 and each
burst is ONE `os.write()`, read by the app as one chunk of input."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pty_grue import PtyGrue, keys
from remote_standin import Request, StandIn, completion_event, send_json, send_sse

from tui.engine.campaign import Campaign
from tui.engine.saves import list_saves, load_save

MODELS = {"object": "list", "data": [{"id": "stand-in", "object": "model"}]}


@pytest.fixture
def server() -> Iterator[StandIn]:
    with StandIn() as stand_in:
        stand_in.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))
        stand_in.route("POST", "/v1/completions")(
            lambda req, conn: send_sse(conn, [completion_event("The hatch opens."),
                                              "data: [DONE]"]))
        yield stand_in


def saved_when(home: Path, condition: Callable[[Campaign], bool], timeout: float = 30) -> Campaign:
    """The save on disk once `condition` holds (the game saves after the editor closes)."""
    deadline = time.monotonic() + timeout
    campaign = None
    while time.monotonic() < deadline:
        saves = list_saves(home / "saves")
        if saves:
            campaign = load_save(saves[0].path)
            if condition(campaign):
                return campaign
        time.sleep(0.1)
    raise AssertionError(f"the save never showed it: {campaign and campaign.memory[-80:]!r}, "
                         f"{campaign and [e.name for e in campaign.world_info.entries]}")


def start(server: StandIn, home: Path) -> PtyGrue:
    grue = PtyGrue(["-m", "tui.cli", "new", "derelict-meridian", "--backend", "openai",
                    "--url", server.url], home)
    grue.wait_for("ready", 60)
    return grue


TEXT = " Reyes carries a plasma cutter and a torch."


def test_memory_opened_typed_and_saved_in_one_write(server: StandIn, grue_home: Path) -> None:
    with start(server, grue_home) as grue:
        before = saved_when(grue_home, lambda c: True).memory
        grue.write(keys("<f2>", TEXT, "<ctrl+s>"))  # open the editor, type, save: one burst
        saved = saved_when(grue_home, lambda c: c.memory != before)
    assert saved.memory == before.rstrip() + TEXT or saved.memory == before + TEXT


def test_memory_typed_and_saved_in_one_write(server: StandIn, grue_home: Path) -> None:
    with start(server, grue_home) as grue:
        before = saved_when(grue_home, lambda c: True).memory
        mark = grue.mark()
        grue.write(keys("<f2>"))
        grue.wait_for("Ctrl+S", 30, mark)  # the editor is open
        time.sleep(0.3)
        grue.write(keys(TEXT, "<ctrl+s>"))
        saved = saved_when(grue_home, lambda c: c.memory != before)
    assert saved.memory.endswith("Reyes carries a plasma cutter and a torch.")
    assert TEXT.strip() in saved.memory


def test_world_info_new_entry_with_a_tab_in_one_write(server: StandIn, grue_home: Path) -> None:
    with start(server, grue_home) as grue:
        before = {e.name for e in saved_when(grue_home, lambda c: True).world_info.entries}
        mark = grue.mark()
        grue.write(keys("<f9>"))
        grue.wait_for("World info", 30, mark)
        time.sleep(0.3)
        grue.write(keys("a", "Pod", "<tab>", "pod, pods", "<ctrl+s>"))
        saved = saved_when(grue_home, lambda c: len(c.world_info.entries) > len(before))
    added = [(e.name, e.keys) for e in saved.world_info.entries if e.name not in before]
    assert added == [("Pod", ["pod", "pods"])]


def test_escape_and_the_next_words_in_one_write_close_the_editor_then_type(
        server: StandIn, grue_home: Path) -> None:
    """Esc then "look" in one read is "alt+l", "o", "o", "k" to the terminal's parser: the
    editor stayed open and took "ook around". Now Esc closes it and the action goes out."""
    with start(server, grue_home) as grue:
        turns = len(saved_when(grue_home, lambda c: True).turns)
        mark = grue.mark()
        grue.write(keys("<f2>"))
        grue.wait_for("Ctrl+S", 30, mark)  # the memory editor is open
        time.sleep(0.3)
        grue.write(keys("<escape>", "look around", "<enter>"))
        saved = saved_when(grue_home, lambda c: len(c.turns) > turns)
    assert "look around" in saved.turns[-1].action
    assert "ook around" not in saved.memory


def test_plain_lines_typed_ahead_are_shown_after_their_prompt(server: StandIn,
                                                               grue_home: Path) -> None:
    """Line mode, two lines in one write: both run in order, and the second, which the
    terminal echoed while the first turn was written, is shown again after its own prompt.
    Before, the prompt stood alone and the command's answer began mid-line, where the
    line wrapper did not count the prompt (a long line broke in the wrong place)."""
    with PtyGrue(["-m", "tui.cli", "new", "derelict-meridian", "--backend", "openai", "--url",
                  server.url, "--plain"], grue_home) as grue:
        grue.wait_for("[do] > ", 60)
        time.sleep(0.3)  # a player reads the prompt first: the burst is typed after it
        mark = grue.mark()
        grue.write(b"look\r/inv\r")
        grue.wait_for("Carrying:", 60, start=mark)
        after = grue.since(mark).decode()
        assert after.index("The hatch opens.") < after.index("Carrying:")
        assert "[do] > /inv\r\nCarrying:" in after
        assert after.count("look\r\n") == 1  # typed after its prompt: echoed there once
        grue.write(b"/quit\r")
        assert grue.wait_exit(30) == 0


def test_lines_in_one_write_while_the_model_writes_stay_in_the_input_in_order(
        server: StandIn, grue_home: Path) -> None:
    """Enter while the model writes keeps the line in the input; a second line in the same
    write went in front of it and the refused command between them was lost. Sent again once
    the turn is done, the input holds all of it, in the order it was typed."""
    release = threading.Event()

    def held(req: Request, conn: socket.socket) -> None:
        def events() -> Iterator[str]:
            yield completion_event("The hatch")
            if "look around" in json.dumps(req.json()):
                release.wait(60)
            yield completion_event(" opens.")
            yield "data: [DONE]"
        send_sse(conn, events())

    server.route("POST", "/v1/completions")(held)
    with start(server, grue_home) as grue:
        turns = len(saved_when(grue_home, lambda c: True).turns)
        grue.wait_for("ready ·", 60)  # the model, not only the screen
        mark = grue.mark()
        grue.write(keys("look around", "<enter>"))
        grue.wait_for("The hatch", 30, mark)
        try:
            grue.write(keys("wait", "<enter>", "/undo", "<enter>", " open"))
            time.sleep(0.5)
        finally:
            release.set()
        saved_when(grue_home, lambda c: len(c.turns) == turns + 1)
        grue.write(keys("<enter>"))
        saved = saved_when(grue_home, lambda c: len(c.turns) == turns + 2)
    assert "look around" in saved.turns[-2].action
    assert "wait/undo open" in saved.turns[-1].action
