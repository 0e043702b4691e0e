"""The Textual app: screens and app-wide keys. Thin: the engine and screens do the work."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import ModalScreen

from tui.core.backend import BackendError
from tui.core.text import one_line
from tui.engine.campaign import Settings, campaign_from_scenario
from tui.engine.cards import CardError, load_card
from tui.engine.chat import ChatGame, campaign_from_card, game_for
from tui.engine.game import Game
from tui.engine.persona import default_persona
from tui.engine.saves import SaveError, load_save, write_save
from tui.engine.scenario import Scenario
from tui.engine.scenario_start import resolve_scenario
from tui.model_host import ModelHost
from tui.screens.adventure import AdventureScreen
from tui.screens.chat import ChatScreen
from tui.screens.dialogs import HelpDialog
from tui.screens.home import HomeScreen
from tui.screens.scenario_setup import OptionPickDialog, QuestionDialog

HANG_UP_GRACE_SECONDS = 3.0


class GrueApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Grue"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(self, game: Game | None = None, host: ModelHost | None = None,
                 settings: Settings | None = None, scenario: Scenario | None = None) -> None:
        super().__init__()
        self.animation_level = "none"
        self.start_game = game
        self.host = host or ModelHost()
        self.default_settings = settings or Settings()
        self.game: Game | None = None
        self.start_scenario_first = scenario

    def on_mount(self) -> None:
        # Not available on every platform, nor outside the main thread (tests).
        with contextlib.suppress(RuntimeError, ValueError, AttributeError):
            loop = asyncio.get_running_loop()
            signal.signal(signal.SIGHUP, lambda signum, frame: self._sighup(loop))
        if self.start_game is not None:
            self.open_game(self.start_game)
            return
        self.push_screen(HomeScreen())
        self.preload()
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
            self.call_from_thread(self._home_model_line, f"Model: failed: {exc}")
            return
        self.call_from_thread(self._home_model_line,
                              f"Model: {info.name} ready ({info.n_ctx} tokens)")

    def _home_model_line(self, text: str) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                screen.set_model_line(text)

    def on_home_screen_picked(self, message: HomeScreen.Picked) -> None:
        if message.kind == "quit":
            self.exit()
        elif message.kind == "scenario":
            assert isinstance(message.value, Scenario)
            self.start_scenario(message.value)
        elif message.kind == "save":
            assert isinstance(message.value, Path)
            try:
                campaign = load_save(message.value, lock=True)
            except SaveError as exc:
                self.notify(one_line(str(exc), 300), severity="error", timeout=10)
                return
            self.open_game(game_for(campaign))
        elif message.kind == "character":
            assert isinstance(message.value, Path)
            try:
                card = load_card(message.value)
            except CardError as exc:
                self.notify(one_line(str(exc), 300), severity="error", timeout=10)
                return
            persona = default_persona()
            campaign = campaign_from_card(card, persona.name, persona.description,
                                          Settings(**vars(self.default_settings)))
            try:
                write_save(campaign)
            except SaveError as exc:
                self.notify(one_line(str(exc), 300), severity="error")
                return
            self.open_game(game_for(campaign))

    @work(thread=True, exclusive=True, group="start")
    def start_scenario(self, scenario: Scenario) -> None:
        """Ask for an option and the scenario's questions (dialogs), then start playing."""

        def ask(screen: ModalScreen[Any]) -> Any:
            answer: Future[Any] = Future()
            self.call_from_thread(self.push_screen, screen, answer.set_result)
            return answer.result()

        resolved = resolve_scenario(
            scenario,
            lambda title, options: ask(OptionPickDialog(title, options)),
            lambda question, default: ask(QuestionDialog(question, default)),
        )
        if resolved is not None:
            self.call_from_thread(self.begin_campaign, resolved)

    def begin_campaign(self, scenario: Scenario) -> None:
        settings = Settings(**vars(self.default_settings))
        campaign = campaign_from_scenario(scenario, settings)
        try:
            write_save(campaign)
        except SaveError as exc:
            self.notify(one_line(str(exc), 300), severity="error")
            return
        self.open_game(Game(campaign))

    def open_game(self, game: Game) -> None:
        self.game = game
        if isinstance(game, ChatGame):
            self.push_screen(ChatScreen(game, self.host))
        else:
            self.push_screen(AdventureScreen(game, self.host))

    def action_help(self) -> None:
        self.push_screen(HelpDialog())

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
        os._exit(0)

    def hang_up(self) -> None:
        """The terminal went away (SSH dropped): stop the model, save, leave cleanly."""
        screen = self.screen
        if isinstance(screen, AdventureScreen) and screen.cancel_event is not None:
            screen.cancel_event.set()
        if self.game is not None:
            with contextlib.suppress(SaveError):
                self.game.save()
        self.exit()

    def on_unmount(self) -> None:
        self.host.shutdown()
