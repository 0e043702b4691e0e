"""Hang-ups (issue "the trust pass"): SIGHUP or SIGTERM while the model writes a turn or the
story-so-far update, in the TUI and in `--plain`, each in a real pty at 80x24. The model stops,
what was committed is saved (nothing half-written), the terminal is given back (the TUI leaves
the alternate screen and turns mouse reporting off and the cursor on) and the process ends.

The model is a stand-in OpenAI-compatible server in the test process that streams slowly, so
the signal always lands mid-stream; it tells whether a stream was read to its end."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pty_grue import PtyGrue, keys
from remote_standin import Request, StandIn, completion_event, send_json, send_sse

from tui.core.paths import saves_dir
from tui.engine.campaign import Settings, Turn, campaign_from_scenario
from tui.engine.saves import list_saves, load_save, write_save
from tui.engine.saves.lock import release
from tui.engine.scenario import find_scenario

MODELS = {"object": "list", "data": [{"id": "stand-in", "object": "model"}]}
SLOW = [f"word{i} " for i in range(400)]
# What a terminal needs back: the normal screen, no mouse reporting, a cursor, no bracketed paste.
RESTORED = (b"\x1b[?1049l", b"\x1b[?1000l", b"\x1b[?25h", b"\x1b[?2004l")
EXIT_WITHIN = 10.0  # generous: a behaviour check, not a timing (the target is 3 s)


class SlowModel(StandIn):
    """Turns are quick unless `slow_turns`; story-so-far requests are always slow."""

    def __init__(self, slow_turns: bool) -> None:
        super().__init__()
        self.slow_turns = slow_turns
        self.turn_started = threading.Event()
        self.summary_started = threading.Event()
        self.finished: list[str] = []  # "turn" / "world" / "summary": streams read to the end
        self.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))
        self.route("POST", "/v1/completions")(self.complete)

    def complete(self, req: Request, conn) -> None:  # type: ignore[no-untyped-def]
        body = req.json()
        summary = "Write a new summary" in str(body.get("prompt"))
        world = "response_format" in body or "json_schema" in body  # the world state's update
        kind = "summary" if summary else "world" if world else "turn"
        (self.summary_started if summary else self.turn_started).set()
        slow = summary or self.slow_turns
        words = SLOW if slow else ["You look around. ", "The road is quiet."]
        with contextlib.suppress(OSError):
            send_sse(conn, [completion_event(w) for w in words]
                     + [completion_event("", "stop"), "data: [DONE]"],
                     delay=0.05 if slow else 0.0)
            self.finished.append(kind)


@pytest.fixture
def slow_turns() -> Iterator[SlowModel]:
    with SlowModel(slow_turns=True) as server:
        yield server


@pytest.fixture
def slow_summary() -> Iterator[SlowModel]:
    with SlowModel(slow_turns=False) as server:
        yield server


def long_save(url: str) -> str:
    """A campaign long enough that a story-so-far update comes due after the next turn."""
    settings = Settings(backend="openai", url=url, n_ctx=768, max_new_tokens=48)
    campaign = campaign_from_scenario(find_scenario("lantern-road"), settings)
    for i in range(150):
        campaign.turns.append(Turn("do", f"> You walk on, step {i}.", [
            f"The road winds past farm {i}, where a miller waves. Night falls slowly."]))
    release(write_save(campaign, saves_dir()))  # the save is for the child process to play
    return campaign.id


def hang_up(grue: PtyGrue, started: threading.Event, signum: int) -> tuple[int, bytes]:
    assert started.wait(60), "the model was never asked"
    mark = grue.mark()
    grue.signal(signum)
    return grue.wait_exit(EXIT_WITHIN), grue.since(mark)


def the_save(home: Path):  # type: ignore[no-untyped-def]
    [summary] = list_saves(home / "saves")
    return load_save(summary.path)


def tui_new(url: str, home: Path) -> PtyGrue:
    return PtyGrue(["-m", "tui.cli", "new", "lantern-road", "--backend", "openai", "--url", url],
                   home)


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_tui_hang_up_while_the_model_writes(slow_turns: SlowModel, grue_home: Path,
                                            signum: int) -> None:
    with tui_new(slow_turns.url, grue_home) as grue:
        grue.wait_for("ready", 60)
        grue.write(keys("look", "<enter>"))
        _status, tail = hang_up(grue, slow_turns.turn_started, signum)
    assert all(code in tail for code in RESTORED), tail[-400:]
    assert "turn" not in slow_turns.finished  # stopped mid-stream
    assert len(the_save(grue_home).turns) == 1  # the opening; the cut turn is not kept


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_tui_hang_up_during_a_story_so_far_update(slow_summary: SlowModel, grue_home: Path,
                                                  signum: int) -> None:
    cid = long_save(slow_summary.url)
    with PtyGrue(["-m", "tui.cli", "resume", cid], grue_home) as grue:
        grue.wait_for("ready", 60)
        grue.write(keys("look", "<enter>"))
        _status, tail = hang_up(grue, slow_summary.summary_started, signum)
    assert all(code in tail for code in RESTORED), tail[-400:]
    assert "summary" not in slow_summary.finished  # the update was cut off
    assert slow_summary.finished[0] == "turn"
    saved = the_save(grue_home)
    assert saved.turns[-1].action == "> You look." and saved.summary == ""


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_plain_hang_up_while_the_model_writes(slow_turns: SlowModel, grue_home: Path,
                                              signum: int) -> None:
    with PtyGrue(["-m", "tui.cli", "new", "lantern-road", "--plain", "--backend", "openai",
                  "--url", slow_turns.url], grue_home) as grue:
        grue.wait_for("ready (", 60)
        grue.write(b"look\r")
        status, tail = hang_up(grue, slow_turns.turn_started, signum)
    assert status == 128 + signum
    assert b"Hung up; saved as" in tail
    assert "turn" not in slow_turns.finished
    assert len(the_save(grue_home).turns) == 1


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_plain_hang_up_during_a_story_so_far_update(slow_summary: SlowModel, grue_home: Path,
                                                    signum: int) -> None:
    cid = long_save(slow_summary.url)
    with PtyGrue(["-m", "tui.cli", "resume", cid, "--plain"], grue_home) as grue:
        grue.wait_for("ready (", 60)
        grue.write(b"look\r")
        status, _tail = hang_up(grue, slow_summary.summary_started, signum)
    assert status == 128 + signum
    assert slow_summary.finished == ["turn"]
    saved = the_save(grue_home)
    assert saved.turns[-1].action == "> You look." and saved.summary == ""


def test_plain_hang_up_while_waiting_for_a_line(slow_turns: SlowModel, grue_home: Path) -> None:
    with PtyGrue(["-m", "tui.cli", "new", "lantern-road", "--plain", "--backend", "openai",
                  "--url", slow_turns.url], grue_home) as grue:
        grue.wait_for("ready (", 60)
        grue.wait_for("> ", 10)
        ready = threading.Event()
        ready.set()
        status, tail = hang_up(grue, ready, signal.SIGHUP)
    assert status == 128 + signal.SIGHUP and b"Hung up; saved as" in tail
    assert len(the_save(grue_home).turns) == 1
