"""Hostile text (issue "the trust pass", "Harden the classes: hostile text"): one home whose
save, character card, lorebook, scenario and file names hold terminal escapes (OSC 52 clipboard
writes, OSC 8 links, CSI, C1 controls, title changes), bidi overrides and Rich markup, and a
model that narrates them. Each surface is checked on the bytes it writes: the TUI and `--plain`
through a real pty, `grue saves / characters / scenarios / context [--json]` on stdout.

None of the hostile sequences may reach the terminal: with their ESC (or C1 introducer) gone
what is left is plain text, so the checks look for each sequence *with* its introducer. The
TUI's own escape sequences are fine. Markup must show as the literal text."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomli_w
from pty_grue import REPO, PtyGrue, keys
from remote_standin import Request, StandIn, completion_event, send_json, send_sse

from tui.engine.campaign import Settings, Turn, campaign_from_scenario
from tui.engine.lore import LoreEntry
from tui.engine.lorebook_files import attach_lorebook
from tui.engine.saves import release_save, write_save
from tui.engine.scenario import find_scenario

# Each sequence sits between two letters so what is left of it is easy to find.
OSC52 = "a\x1b]52;c;cHduZWQ=\x07b"
OSC8 = "c\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\d"
CSI = "e\x1b[2Jf\x1b[31mg"
C1 = "h\x9b31mi\x9d0;c1title\x07j"
TITLE = "k\x1b]0;pwned\x07l"
BIDI = "m\u202aA\u202bB\u202cC\u202dD\u202eE\u2066F\u2067G\u2068H\u2069n"
MARKUP = "[bold]Bx[/] [/] [@click=app.quit]qx"
HOSTILE = " ".join([OSC52, OSC8, CSI, C1, TITLE, BIDI, MARKUP])
# File names cannot hold "/", so no OSC 8 link there.
HOSTILE_NAME = "".join([TITLE, "\x1b[31m", "\x9b1m", "\u202e"])

ESC_PAUSE = 1.0  # seconds after a lone Escape before the next key (see play_tui)
MODELS = {"object": "list", "data": [{"id": "stand-in", "object": "model"}]}


def leaks(output: bytes) -> list[str]:
    """Every hostile sequence (or character) found in what was written to the terminal."""
    found = []
    for needle in (b"\x1b]52", b"\x1b]0;pwned", b"\x1b]8;;http://evil", b"e\x1b[2J",
                   b"f\x1b[31mg", b"\x1b[31m\xc2\x9b"):
        if needle in output:
            found.append(repr(needle))
    if re.search(rb"\x1b\]8;[^\x07\x1b]*;http://evil", output):
        found.append("an OSC 8 link to the hostile address")
    text = output.decode("utf-8", "replace")
    found += [f"U+{ord(ch):04X}" for ch in sorted(set(text))
              if 0x80 <= ord(ch) <= 0x9F or 0x202A <= ord(ch) <= 0x202E
              or 0x2066 <= ord(ch) <= 0x2069]
    return found


@dataclass
class HostileHome:
    home: Path
    save_id: str


def card_json(text: str) -> str:
    return json.dumps({"spec": "chara_card_v2", "spec_version": "2.0", "data": {
        "name": "Evil " + text, "description": text, "first_mes": "Hello. " + text,
        "personality": text, "scenario": text, "creator_notes": text, "tags": ["x" + TITLE],
        "mes_example": "", "system_prompt": "", "post_history_instructions": "",
        "alternate_greetings": [], "creator": text, "character_version": "1",
        "extensions": {}}})


def lorebook_json(text: str) -> str:
    return json.dumps({"name": "Book " + text, "entries": {"0": {
        "uid": 0, "key": ["lamp"], "keysecondary": [], "comment": "Entry " + text,
        "content": "The lamp. " + text, "constant": True}}})


def build_home(home: Path, settings: Settings) -> HostileHome:
    """The hostile home: every kind of player file holding HOSTILE, some names too."""
    for sub in ("characters", "lorebooks", "scenarios", "saves"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    (home / "characters" / "evil.json").write_text(card_json(HOSTILE), encoding="utf-8")
    (home / "characters" / f"{HOSTILE_NAME}.json").write_text("{broken", encoding="utf-8")
    book = home / "lorebooks" / f"{HOSTILE_NAME}.json"
    book.write_text(lorebook_json(HOSTILE), encoding="utf-8")
    scenario = {"title": "Evil " + HOSTILE, "description": HOSTILE, "opening": HOSTILE,
                "memory": HOSTILE, "authors_note": HOSTILE, "tags": ["t" + TITLE],
                "world_info": [{"name": "W " + HOSTILE, "keys": ["road"],
                                "content": HOSTILE}]}
    (home / "scenarios" / f"{HOSTILE_NAME}.toml").write_text(tomli_w.dumps(scenario),
                                                             encoding="utf-8")
    (home / "scenarios" / f"x{HOSTILE_NAME}.toml").write_text("[broken", encoding="utf-8")
    campaign = campaign_from_scenario(find_scenario("lantern-road"), settings)
    campaign.title = "Evil " + MARKUP + " " + HOSTILE
    campaign.memory = "Memory " + HOSTILE
    campaign.authors_note = "Note " + HOSTILE
    campaign.summary = "Summary " + HOSTILE
    campaign.world_info.entries.append(LoreEntry(name="WI " + HOSTILE, keys=["lamp"],
                                                 content="WI " + HOSTILE, constant=True))
    attach_lorebook(campaign, str(book))
    campaign.turns.append(Turn("do", "> You say " + HOSTILE, ["The road answers. " + HOSTILE]))
    folder = write_save(campaign, home / "saves")
    release_save(campaign)  # for the child process to play
    copy_with_hostile_id(folder, home / "saves" / f"x{HOSTILE_NAME}")
    return HostileHome(home, campaign.id)


def copy_with_hostile_id(folder: Path, copy: Path) -> None:
    """A save from elsewhere whose folder name, id and kind are hostile too."""
    import shutil
    import tomllib

    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("lock"))
    state = tomllib.loads((copy / "campaign.toml").read_text(encoding="utf-8"))
    state.update(id="Id " + HOSTILE, kind="K" + TITLE, title="Copy " + HOSTILE,
                 updated=state["updated"] - 60)
    (copy / "campaign.toml").write_text(tomli_w.dumps(state), encoding="utf-8")


@pytest.fixture
def hostile_home(grue_home: Path) -> HostileHome:
    from tui.models.embedded import embedded_model_path

    return build_home(grue_home, Settings(model=str(embedded_model_path()), n_ctx=2048))


def grue_stdout(home: Path, *args: str) -> bytes:
    done = subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True,
                          env={"GRUE_HOME": str(home), "PYTHONPATH": str(REPO),
                               "PATH": "/usr/bin:/bin"},
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Traceback" not in done.stderr
    return done.stdout


# ---- the commands that list and show -----------------------------------------------------


def test_grue_saves_prints_no_hostile_sequence(hostile_home: HostileHome) -> None:
    out = grue_stdout(hostile_home.home, "saves")
    assert b"Evil" in out and leaks(out) == []
    assert MARKUP.encode()[:12] in out  # markup is printed as it is


def test_grue_characters_prints_no_hostile_sequence(hostile_home: HostileHome) -> None:
    out = grue_stdout(hostile_home.home, "characters")
    assert b"Evil" in out and b"unreadable" in out  # the broken card, by its hostile name
    assert leaks(out) == []


def test_grue_scenarios_prints_no_hostile_sequence(hostile_home: HostileHome) -> None:
    out = grue_stdout(hostile_home.home, "scenarios")
    assert b"Evil" in out and leaks(out) == []


@pytest.mark.model
def test_grue_context_prints_no_hostile_sequence(hostile_home: HostileHome) -> None:
    out = grue_stdout(hostile_home.home, "context", hostile_home.save_id)
    assert b"The road answers." in out and b"Memory" in out and b"The lamp." in out
    assert leaks(out) == []
    assert b"[@click=app.quit]qx" in out


@pytest.mark.model
def test_grue_context_json_prints_no_hostile_sequence(hostile_home: HostileHome) -> None:
    out = grue_stdout(hostile_home.home, "context", hostile_home.save_id, "--json")
    assert leaks(out) == []
    data = json.loads(out)  # the JSON keeps the text as it is, escaped
    assert "The road answers. " in data["prompt"] and TITLE in data["prompt"]


# ---- a model that narrates hostile text, and the TUI and line mode -----------------------

NARRATION = "The night answers. " + HOSTILE + " The end of it."


class HostileModel(StandIn):
    """An OpenAI-compatible stand-in whose every reply is NARRATION, streamed in small pieces
    (escape sequences split across them)."""

    def __init__(self) -> None:
        super().__init__()
        self.route("GET", "/v1/models")(lambda req, conn: send_json(conn, MODELS))
        self.route("POST", "/v1/completions")(self.complete)

    def complete(self, req: Request, conn) -> None:  # type: ignore[no-untyped-def]
        pieces = [NARRATION[i:i + 5] for i in range(0, len(NARRATION), 5)]
        with contextlib.suppress(OSError):
            send_sse(conn, [completion_event(p) for p in pieces]
                     + [completion_event("", "stop"), "data: [DONE]"])


@pytest.fixture
def hostile_model() -> Iterator[HostileModel]:
    with HostileModel() as server:
        yield server


def remote(server: HostileModel) -> list[str]:
    return ["--backend", "openai", "--url", server.url]


def test_tui_home_shows_no_hostile_sequence(hostile_home: HostileHome) -> None:
    with PtyGrue(["-m", "tui.cli"], hostile_home.home, size=(120, 50)) as grue:
        grue.wait_for("Chat with", 60)
        grue.wait_for("Evil [bold]Bx[/] [/] [@click=app.quit]")  # the save, literally
        grue.write(keys("<ctrl+q>"))
        grue.wait_exit(30)
    assert leaks(grue.output) == []
    assert b"xk]0;pwnedl[31m1m.toml" in grue.output  # the unreadable scenario, by its name


GAME_SCREENS = (("f2", "Memory a]52"), ("f3", "Note a]52"), ("f9", "WI a]52"),
                ("f10", "Entry a]52"))


def play_tui(grue: PtyGrue, screens: tuple[tuple[str, str], ...],
             commands: tuple[tuple[str, str], ...] = ()) -> None:
    """A turn, then each screen (key, a text it shows): memory, note, world info, the context
    inspector; then each command (typed, a text its notice shows); then home and quit."""
    grue.wait_for("ready", 60)
    mark = grue.mark()
    grue.write(keys("look", "<enter>"))
    grue.wait_for("The end of it.", 60, start=mark)
    for key, shown in screens:
        mark = grue.mark()
        grue.write(keys(f"<{key}>"))
        grue.wait_for(shown, 30, start=mark)
        time.sleep(0.3)
        back = grue.mark()
        grue.write(keys("<escape>"))
        # A lone ESC is told from the start of a key's sequence by a pause after it; the next
        # key pressed at once would join it (alt+F3 rather than Escape, F3), as on any
        # terminal. Pacing, not a timed check; and the game screen is back (its footer drawn
        # again) before the next key, since a busy machine may read both keys in one go.
        time.sleep(ESC_PAUSE)
        grue.wait_for("Retry", 30, start=back)  # the game's footer, drawn again
    for command, shown in commands:  # last: their notices would cover the screens' text
        mark = grue.mark()
        grue.write(keys(command, "<enter>"))
        grue.wait_for(shown, 30, start=mark)
    grue.write(keys("<ctrl+q>"))
    grue.wait_for("New adventure", 30)
    grue.write(keys("<ctrl+q>"))
    grue.wait_exit(30)


def test_tui_game_shows_no_hostile_sequence(hostile_home: HostileHome,
                                            hostile_model: HostileModel) -> None:
    book = hostile_home.home / "book.json"  # a name that can be typed; the book's is hostile
    book.write_text(lorebook_json(HOSTILE), encoding="utf-8")
    with PtyGrue(["-m", "tui.cli", "resume", hostile_home.save_id, *remote(hostile_model)],
                 hostile_home.home, size=(100, 40)) as grue:
        play_tui(grue, GAME_SCREENS, commands=((f"/lore {book}", "Book a]52"),))
    assert leaks(grue.output) == []
    assert b"[@click=app.quit]qx" in grue.output  # markup shows as the text it is


def test_tui_new_game_from_a_hostile_scenario_shows_no_hostile_sequence(
        hostile_home: HostileHome, hostile_model: HostileModel) -> None:
    [scenario] = (hostile_home.home / "scenarios").glob("k*.toml")
    with PtyGrue(["-m", "tui.cli", "new", str(scenario), *remote(hostile_model)],
                 hostile_home.home, size=(100, 40)) as grue:
        play_tui(grue, (("f9", "W a]52"),))
    assert leaks(grue.output) == []
    assert b"Evil a]52" in grue.output


def test_tui_chat_with_a_hostile_card_shows_no_hostile_sequence(
        hostile_home: HostileHome, hostile_model: HostileModel) -> None:
    with PtyGrue(["-m", "tui.cli", "chat", "evil", *remote(hostile_model)],
                 hostile_home.home, size=(100, 40)) as grue:
        grue.wait_for("Hello.", 60)
        play_tui(grue, (("f10", "Evil a]52"),))
    assert leaks(grue.output) == []


def test_plain_shows_no_hostile_sequence(hostile_home: HostileHome,
                                         hostile_model: HostileModel) -> None:
    with PtyGrue(["-m", "tui.cli", "resume", hostile_home.save_id, "--plain",
                  *remote(hostile_model)], hostile_home.home) as grue:
        grue.wait_for("ready (", 60)
        grue.write(b"look\r")
        grue.wait_for("The end of it.", 60)
        for command, shown in (("/memory", "Memory a]52"), ("/note", "Note a]52"),
                               ("/summary", "Summary a]52"), ("/lore", "Book a]52"),
                               ("/context", "fired: WI a]52")):
            mark = grue.mark()
            grue.write(command.encode() + b"\r")
            grue.wait_for(shown, 30, start=mark)
        grue.write(b"/quit\r")
        grue.wait_exit(30)
    assert leaks(grue.output) == []
    assert b"[@click=app.quit]qx" in grue.output


def test_plain_chat_with_a_hostile_card_shows_no_hostile_sequence(
        hostile_home: HostileHome, hostile_model: HostileModel) -> None:
    with PtyGrue(["-m", "tui.cli", "chat", "evil", "--plain", *remote(hostile_model)],
                 hostile_home.home) as grue:
        grue.wait_for("Hello.", 60)
        grue.write(b"hi\r")
        grue.wait_for_words("The end of it.", 60)
        mark = grue.mark()
        grue.write(b"/messages\r")
        grue.wait_for("Hello.", 30, start=mark)
        grue.write(b"/quit\r")
        grue.wait_exit(30)
    assert leaks(grue.output) == []
