"""The Textual app: screens and app-wide keys. Thin: the engine and screens do the work."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.widget import Widget

from tui.core.backend import BackendError
from tui.core.log import log_exception, take_log_problem
from tui.core.text import clean, one_line
from tui.engine.campaign import Settings
from tui.engine.saves import SaveError
from tui.engine.saves.writer import SaveWriter
from tui.engine.scenario import Scenario
from tui.engine.start import SavedGame, StartError, StartOptions, StartSource
from tui.keymap import read_keymap
from tui.keys import bindings_for, help_rows, key_label
from tui.model_host import ModelHost
from tui.screens.home import HomeScreen

if TYPE_CHECKING:
    from tui.engine.game import Game

# What only a game needs (its screens, the engine's turn and prompt code, the model's
# library) is imported when a game starts, not at launch: the home screen's first frame
# waits for nothing it does not show (docs/architecture.md, "Launch").

TEXT_AREA_MODULE = "textual.widgets._text_area"  # TextArea's own module (a test checks)
HANG_UP_GRACE_SECONDS = 3.0
KEY_HOLD_REFRESHES = 20  # refreshes a hold is checked after, once its key's action has run
# A refresh callback parked on a screen that closes before its next refresh never runs; this
# timer checks on the hold in any case, so held keys can never be stuck.
KEY_HOLD_CHECK_SECONDS = 0.25
# A key that never comes back to the app (a widget took it) lets the keys behind it go on
# wherever focus is after this long; every other hold ends when its action has run.
KEY_HOLD_LIMIT_SECONDS = 10.0
FLUSH_SECONDS = 30.0  # how long leaving waits for saves still being written


def is_text_area(widget: object) -> bool:
    """A TextArea. Its module is looked up, not imported (~15 ms at launch): no TextArea
    exists before its module does."""
    text_area = sys.modules.get(TEXT_AREA_MODULE)
    return text_area is not None and isinstance(widget, text_area.TextArea)


def takes_key_itself(widget: Widget | None, event: events.Key) -> bool:
    """The focused widget handles the key in its own key handler (text typed into a field,
    Enter in a text area), so no binding runs and the key never comes back to the app."""
    if widget is None:
        return False
    if widget.check_consume_key(event.key, event.character):
        return True
    if event.key != "enter" or not is_text_area(widget):
        return False
    return not getattr(widget, "read_only", False)


def escape_then_key(event: events.Key) -> tuple[events.Key, events.Key] | None:
    """Esc and the letter or digit typed just after it, when the terminal's parser read them
    as one Alt key: Esc followed by "l" in one read is "alt+l" (SSH packs keystrokes; a
    fast "Esc, then type" does it too). None for any other key."""
    char = event.character
    if not event.key.startswith("alt+") or char is None or len(char) != 1 \
            or not char.isalnum():
        return None
    return events.Key("escape", "\x1b"), events.Key(char, char)


@dataclass
class KeyHold:
    """Keys held behind `key` until its action has run (`done`) and any screen it opened
    takes keys. `number` tells a late release of an ended hold from the current one."""

    number: int
    key: events.Key
    screen: Screen[Any]
    until: float  # monotonic time after which the keys go on in any case
    keys: list[events.Key] = field(default_factory=list)
    done: bool = False


class GrueApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Grue"
    ENABLE_COMMAND_PALETTE = False
    # Replaces Textual's own Ctrl+Q (quit at once, checked before any screen's keys).
    BINDINGS = bindings_for("app")

    def __init__(self, game: Game | None = None, host: ModelHost | None = None,
                 settings: Settings | None = None, scenario: Scenario | None = None,
                 options: StartOptions | None = None) -> None:
        """`options` (from the command line) start `scenario`; games picked later on the home
        screen keep their settings but not their lorebooks or persona."""
        super().__init__()
        self.animation_level = "none"
        self.start_game = game
        self.host = host or ModelHost()
        self.start_options = options or StartOptions(base=settings)
        self.default_settings = self.start_options.new_settings()
        self.home_options = StartOptions(base=self.default_settings)
        self.game: Game | None = None
        self.start_scenario_first = scenario
        self.keymap: dict[str, str] = {}  # binding id -> keys, from the player's keymap.toml
        self.key_hold: KeyHold | None = None  # keys waiting for an action and its screen
        self.key_holds = 0  # how many holds there were: each one's number
        # Every game's saves are written on this one thread (docs/architecture.md, "Saves").
        self.save_writer = SaveWriter()

    # --- keys in a burst ----------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        """Keys that arrive in one burst after a key that runs an action (F2, then the text,
        then Ctrl+S) wait until that action has run, and, if it opened or closed a screen,
        until that screen has focused its field; then they go on in order. Textual hands each
        key to the focused widget at once, so the text would land in the old screen's input
        (docs/architecture.md, "Keys")."""
        if not isinstance(event, events.Key):
            await super().on_event(event)
            return
        if event.is_forwarded:  # back from the focused widget: the bindings run here
            await super().on_event(event)
            hold = self.key_hold
            if hold is not None and event is hold.key:
                hold.done = True
                self.call_after_refresh(self._release_keys, hold.number, KEY_HOLD_REFRESHES)
            return
        split = escape_then_key(event)
        if split is not None and event.key not in self.screen.active_bindings:
            for key in split:  # no Alt key is bound: the player pressed Esc, then the key
                await self.on_event(key)
            return
        if self.key_hold is not None:
            self.key_hold.keys.append(event)
            return
        screen = self.screen
        runs_action = self._runs_action(event)
        await super().on_event(event)
        if runs_action and self.key_hold is None:
            self.key_holds += 1
            self.key_hold = KeyHold(self.key_holds, event, screen,
                                    time.monotonic() + KEY_HOLD_LIMIT_SECONDS,
                                    done=not event.is_forwarded)  # a priority binding ran
            if self.key_hold.done:
                self.call_after_refresh(self._release_keys, self.key_holds, KEY_HOLD_REFRESHES)
            self.set_timer(KEY_HOLD_CHECK_SECONDS,
                           lambda number=self.key_holds: self._check_hold(number))

    def _runs_action(self, event: events.Key) -> bool:
        """The key is bound here and not one the focused widget takes itself."""
        if event.key not in self.screen.active_bindings:
            return False
        return not takes_key_itself(self.focused, event)

    def _hold_may_end(self, hold: KeyHold) -> bool:
        """The hold's action has run, and the screen it left is ready for the keys."""
        if time.monotonic() >= hold.until:
            return True
        if not hold.done:
            return False
        return self.screen is hold.screen or self._screen_takes_keys()

    async def _release_keys(self, number: int, tries: int) -> None:
        """After each refresh once the action has run: release when the screen is ready,
        else look again after the next refresh (at most `tries` more; the timer goes on)."""
        hold = self.key_hold
        if hold is None or hold.number != number:
            return
        if self._hold_may_end(hold):
            self.call_later(self._end_hold, number)
        elif tries > 0:
            self.call_after_refresh(self._release_keys, number, tries - 1)

    async def _check_hold(self, number: int) -> None:
        """The timer's side of a hold: the refresh callbacks may have been dropped with a
        screen that closed (the settings screen's Ctrl+S), and keys must never stay held."""
        hold = self.key_hold
        if hold is None or hold.number != number:
            return
        if self._hold_may_end(hold):
            self.call_later(self._end_hold, number)
        self.set_timer(KEY_HOLD_CHECK_SECONDS, lambda: self._check_hold(number))

    async def _end_hold(self, number: int) -> None:
        """Queued behind what the new screen's mount asked of the app (its focus() is a
        call_later too), so the keys reach the field it focused, not the one focused first."""
        hold = self.key_hold
        if hold is not None and hold.number == number:
            await self._replay_held()

    async def _replay_held(self) -> None:
        held = self.key_hold.keys if self.key_hold else []
        self.key_hold = None
        for index, key in enumerate(held):
            if self.key_hold is not None:  # a held key ran an action: wait again
                self.key_hold.keys.extend(held[index:])
                return
            await self.on_event(key)

    def _screen_takes_keys(self) -> bool:
        screen = self.screen
        if not screen.is_mounted:
            return False
        wants_focus = any(w.focusable for w in screen.query("*"))
        return self.focused is not None or not wants_focus

    def load_keymap(self) -> None:
        """Apply the player's keymap file; each problem in it is one warning, never a crash."""
        keymap = read_keymap()
        self.keymap = keymap.keys
        self.set_keymap(keymap.keys)
        for problem in keymap.problems:
            self.notify(problem, title="Keymap", severity="warning", timeout=15, markup=False)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notice is plain text, whoever asks: what it says often came from a file, a
        server, the model or the player, and markup in it would be parsed at render time, where
        no handler can catch the error (docs/architecture.md, "Untrusted text")."""
        super().notify(clean(message), title=one_line(title, 80), severity=severity,
                       timeout=timeout, markup=False)

    def get_key_display(self, binding: Binding) -> str:
        return binding.key_display or key_label(binding.key, short=True)

    def on_mount(self) -> None:
        self.load_keymap()
        # Not available on every platform, nor outside the main thread (tests).
        with contextlib.suppress(RuntimeError, ValueError, AttributeError):
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGHUP, signal.SIGTERM):  # a dropped terminal, a shutdown
                signal.signal(signum, lambda _signum, _frame: self._sighup(loop))
        if self.start_game is not None:
            self.open_game(self.start_game)
            return
        # The model (llama_cpp, numpy: ~0.5 s of imports holding the GIL) loads once the home
        # screen is on the terminal, not while its first frame is made
        # (docs/architecture.md, "Launch").
        self.push_screen(HomeScreen(on_drawn=self.preload))
        if self.start_scenario_first is not None:
            self.start_scenario(self.start_scenario_first)

    @work(thread=True, exclusive=True, group="preload")
    def preload(self) -> None:
        """Load the default model while the player reads the menu."""
        try:
            info = self.host.load(self.default_settings)
        except BackendError as exc:
            self.call_from_thread(self._home_model_line, f"Model: failed: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - a line on screen, never a traceback
            log_exception("loading the default model failed", exc)
            self.call_from_thread(self._home_model_line, f"Model: failed: {exc}")
            return
        self.call_from_thread(self._home_model_line,
                              f"Model: {info.name} ready ({info.n_ctx} tokens)")
        if problem := take_log_problem():  # a full disk, a read-only home: said once
            self.call_from_thread(self.notify, problem, severity="warning", timeout=10)

    def _home_model_line(self, text: str) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                screen.set_model_line(text)

    def on_home_screen_picked(self, message: HomeScreen.Picked) -> None:
        if message.kind == "quit":
            self.exit()
        elif message.kind == "scenario":
            assert isinstance(message.value, Scenario)
            self.start_scenario(message.value, self.home_options)
        elif message.kind == "save":
            assert isinstance(message.value, Path)
            self.begin(SavedGame(message.value), StartOptions())
        elif message.kind == "character":
            assert isinstance(message.value, Path)
            from tui.engine.cards import CardError, load_card

            try:
                card = load_card(message.value)
            except CardError as exc:
                self.notify(one_line(str(exc), 300), severity="error", timeout=10)
                return
            self.begin(card, self.home_options)

    @work(thread=True, exclusive=True, group="start")
    def start_scenario(self, scenario: Scenario, options: StartOptions | None = None) -> None:
        """Start a scenario, asking for its option and questions in dialogs (`start_game`
        waits in this thread while the player answers), then play it."""
        from tui.engine.formats.lorebooks import LoreFormatError
        from tui.engine.start import Asker, start_game
        from tui.screens.scenario_setup import OptionPickDialog, QuestionDialog

        def ask(screen: ModalScreen[Any]) -> Any:
            answer: Future[Any] = Future()
            self.call_from_thread(self.push_screen, screen, answer.set_result)
            return answer.result()

        asker = Asker(lambda title, choices: ask(OptionPickDialog(title, choices)),
                      lambda question, default: ask(QuestionDialog(question, default)))
        try:
            game = start_game(scenario, options or self.start_options, asker)
        except (StartError, SaveError, LoreFormatError) as exc:
            self.call_from_thread(self.notify, one_line(str(exc), 300), severity="error",
                                  timeout=10)
            return
        if game is not None:
            self.call_from_thread(self.open_game, game)

    def begin(self, source: StartSource, options: StartOptions) -> None:
        """Start a game that asks nothing (a card, a save) and play it."""
        from tui.engine.formats.lorebooks import LoreFormatError
        from tui.engine.start import start_game
        try:
            game = start_game(source, options)
        except (StartError, SaveError, LoreFormatError) as exc:
            self.notify(one_line(str(exc), 300), severity="error", timeout=10)
            return
        if game is not None:
            self.open_game(game)

    def open_game(self, game: Game) -> None:
        from tui.engine.chat import ChatGame
        from tui.screens.adventure import AdventureScreen
        from tui.screens.chat import ChatScreen

        self.game = game
        game.writer = self.save_writer
        if isinstance(game, ChatGame):
            self.push_screen(ChatScreen(game, self.host))
        else:
            self.push_screen(AdventureScreen(game, self.host))

    def action_help(self) -> None:
        from tui.screens.dialogs import HelpDialog

        self.push_screen(HelpDialog([
            ("Home screen", help_rows("home", self.keymap)),
            ("In an adventure", help_rows("adventure", self.keymap)),
            ("In a chat", help_rows("chat", self.keymap)),
        ]))

    def action_leave(self) -> None:
        """Ctrl+Q where no screen takes it: in a game (or a screen or dialog above one), save
        and go home; elsewhere, quit."""
        from tui.screens.adventure import AdventureScreen
        from tui.screens.room import RoomScreen

        room = next((s for s in reversed(self.screen_stack) if isinstance(s, RoomScreen)),
                    None)
        if room is not None:  # out of the room first, back to the adventure
            room.action_home()
            return
        game_screen = next((s for s in reversed(self.screen_stack)
                            if isinstance(s, AdventureScreen)), None)
        if game_screen is None:
            self.exit()
        else:
            game_screen.action_home()

    def go_home(self) -> None:
        """Back to the home screen, its list of saves refreshed (the game saved itself)."""
        self.game = None
        while len(self.screen_stack) > 1 and not isinstance(self.screen, HomeScreen):
            self.pop_screen()
        if isinstance(self.screen, HomeScreen):
            self.screen.refresh_menu()  # the save is new, or has more turns
        else:  # the game was opened from the command line
            self.push_screen(HomeScreen())
            info = self.host.info
            if info is not None:
                self.call_after_refresh(self._home_model_line,
                                        f"Model: {info.name} ready ({info.n_ctx} tokens)")

    def _sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        """The terminal is gone. Ask the loop to save and exit; if the loop is stuck (seen
        here once: the screen writer blocked on the dead terminal), a watchdog saves and ends
        the process, so a dropped SSH session never leaves Grue spinning."""
        threading.Thread(target=self._hang_up_watchdog, daemon=True).start()
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self.hang_up)

    def _hang_up_watchdog(self) -> None:
        time.sleep(HANG_UP_GRACE_SECONDS)
        game = self.game or self.start_game
        if game is not None:
            with contextlib.suppress(Exception):
                game.save()
        self.save_writer.flush(FLUSH_SECONDS)
        os._exit(0)

    def hang_up(self) -> None:
        """The terminal went away (SSH dropped) or the system is shutting down (SIGTERM):
        stop the model (a turn, a story-so-far update) and a download, save, leave cleanly.
        The game screen may be under a dialog or another screen."""
        from tui.screens.adventure import AdventureScreen

        for screen in self.screen_stack:  # a download on the models screen stops too
            cancel = getattr(screen, "cancel_event", None)
            if isinstance(cancel, threading.Event):
                cancel.set()
        game_screen = next((s for s in self.screen_stack if isinstance(s, AdventureScreen)),
                           None)
        if game_screen is not None:
            game_screen.stop_and_save()
        elif self.game is not None:
            with contextlib.suppress(SaveError):
                self.game.save()
        self.save_writer.flush(FLUSH_SECONDS)
        self.exit()

    def on_unmount(self) -> None:
        self.save_writer.close(FLUSH_SECONDS)  # nothing the player did is lost on the way out
        self.host.shutdown()
