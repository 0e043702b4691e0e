"""Keys in the running app at 80x24: the footer by priority, the status line, the F1 help,
the player's keymap, and Ctrl+Q (a game goes home, home quits)."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

from fakes import FakeBackend
from textual.widgets import OptionList, Static
from textual.widgets._footer import FooterKey

from tui.app import GrueApp
from tui.engine.campaign import Settings, campaign_from_scenario
from tui.engine.character_library import load_character
from tui.engine.chat import campaign_from_card, game_for
from tui.engine.game import Game
from tui.engine.saves import list_saves, load_save, save_path, write_save
from tui.engine.scenario import find_scenario
from tui.keymap import KEYMAP_FILE
from tui.keys import BY_ID, footer_rank
from tui.model_host import ModelHost
from tui.screens.adventure import AdventureScreen
from tui.screens.chat import ChatScreen
from tui.screens.dialogs import HelpDialog, TextEditDialog
from tui.screens.home import HomeScreen
from tui.widgets.status_bar import StatusBar, fit_parts


def new_game() -> Game:
    return Game(campaign_from_scenario(find_scenario("lantern-road"), Settings()))


def host_with(backend: FakeBackend) -> ModelHost:
    return ModelHost(backend_factory=lambda settings: backend, close_backend=False)


async def wait_until(pilot, condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


async def footer(pilot, app: GrueApp) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(key, label) of every footer key, checking each is drawn whole inside the screen."""
    screen = app.screen
    await pilot.pause()
    def laid_out() -> bool:
        keys = list(screen.query(FooterKey))
        return bool(keys) and all(k.region.width for k in keys)

    await wait_until(pilot, laid_out)
    keys = [k for k in screen.query(FooterKey) if k.display]
    for key in keys:
        assert key.region.width > 0 and screen.region.contains_region(key.region), \
            f"{key.key_display} {key.description} is cut or off the screen"
    return [(k.key_display, k.description) for k in keys]


def rendered(widget: Static) -> str:
    """The widget's text, whatever Rich renderable it holds (the help is a group of grids)."""
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(widget.content)
    return console.export_text().rstrip("\n")


async def test_adventure_footer_at_80_columns_shows_the_important_keys_whole() -> None:
    app = GrueApp(game=new_game(), host=host_with(FakeBackend()))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.pause()
        shown = await footer(pilot, app)
        assert shown == [("F1", "Help"), ("^Q", "Home"), ("F4", "Retry"), ("F6", "Undo"),
                         ("F2", "Memory"), ("F9", "Lore"), ("F11", "Models"),
                         ("F12", "Settings")]
        ranks = [footer_rank(BY_ID[i].id) for i in ("game.help", "game.home", "game.retry")]
        assert ranks == sorted(ranks)
        await pilot.resize_terminal(50, 24)
        await pilot.pause(0.2)
        narrow = await footer(pilot, app)
        assert narrow == shown[:len(narrow)] and 3 <= len(narrow) < len(shown)


async def test_chat_footer_at_80_columns_shows_the_swipes() -> None:
    card = load_character("Maren Holloway")
    game = game_for(campaign_from_card(card, "Ada"))
    app = GrueApp(game=game, host=host_with(FakeBackend()))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.pause()
        shown = await footer(pilot, app)
        assert shown[:6] == [("F1", "Help"), ("^Q", "Home"), ("F4", "Retry"),
                             ("F5", "◀Swipe"), ("F6", "Swipe▶"), ("F7", "Impers.")]
        assert "Undo" not in [label for _, label in shown]  # F6 is a swipe in a chat


def test_fit_parts_drops_whole_parts() -> None:
    parts = [(" · ", "stopped"), (" · ", "kept (F6 undo)"), (" · ", "take 2/3"),
             (" │ ", "ctx 1234/8192"), (" │ ", "Smollm2 135M 8k Lc100K Mix1 Ep2")]
    assert fit_parts(parts, 200) == ("stopped · kept (F6 undo) · take 2/3 │ ctx 1234/8192 │ "
                                     "Smollm2 135M 8k Lc100K Mix1 Ep2")
    assert fit_parts(parts, 55) == "stopped · kept (F6 undo) · take 2/3 │ ctx 1234/8192"
    assert fit_parts(parts, 30) == "stopped · kept (F6 undo)"
    assert fit_parts(parts, 5) == "stop…"


async def test_status_line_at_80_columns_keeps_whole_parts_most_important_first() -> None:
    app = GrueApp(game=new_game(), host=host_with(FakeBackend()))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        status = screen.query_one(StatusBar)
        status.set(model="Smollm2 135M 8k Lc100K Mix1 Ep2 " * 2, ctx_used=1234, ctx_total=8192,
                   state="stopped · kept (F6 undo) · take 2/3")
        await pilot.pause()
        line = rendered(status)
        assert line == "stopped · kept (F6 undo) · take 2/3 │ ctx 1234/8192"
        assert len(line) <= 78  # 80 columns less the padding
        await pilot.resize_terminal(40, 24)
        await pilot.pause(0.2)
        assert rendered(status) == "stopped · kept (F6 undo) · take 2/3"


async def test_help_lists_this_screens_keys_with_the_players_keymap(grue_home: Path) -> None:
    grue_home.mkdir(parents=True, exist_ok=True)
    (grue_home / KEYMAP_FILE).write_text('[keys]\n"game.retry" = "ctrl+g,f4"\n',
                                         encoding="utf-8")
    backend = FakeBackend(["The lantern flickers.", "The road bends."])
    game = new_game()
    app = GrueApp(game=game, host=host_with(backend))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        assert not app._notifications  # a good keymap says nothing
        assert ("^G", "Retry") in await footer(pilot, app)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpDialog)
        text = rendered(app.screen.query_one(Static))
        assert "Ctrl+G, F4" in text and BY_ID["game.retry"].help in text
        assert BY_ID["adventure.undo"].help in text
        assert BY_ID["chat.swipe_prev"].help not in text
        await pilot.press("escape")
        await pilot.press(*"look", "enter")
        await wait_until(pilot, lambda: screen.pending is None and len(game.campaign.turns) == 2)
        await pilot.press("ctrl+g")  # the remapped retry
        await wait_until(pilot, lambda: len(game.campaign.turns[-1].responses) == 2)
        await wait_until(pilot, lambda: screen.pending is None)
        await pilot.press("ctrl+r")  # the default's second key: not in the keymap any more
        await pilot.pause(0.3)
        assert screen.pending is None and len(game.campaign.turns[-1].responses) == 2


async def test_bad_keymap_is_one_warning_and_the_game_runs(grue_home: Path) -> None:
    grue_home.mkdir(parents=True, exist_ok=True)
    (grue_home / KEYMAP_FILE).write_text('[keys]\n"game.retyr" = "f5"\n', encoding="utf-8")
    app = GrueApp(game=new_game(), host=host_with(FakeBackend()))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_until(pilot, lambda: bool(app._notifications))
        messages = [n.message for n in app._notifications]
        assert messages == ["keymap.toml: unknown key ids (ignored): game.retyr"]
        assert isinstance(app.screen, AdventureScreen)
        assert ("F4", "Retry") in await footer(pilot, app)


def menu_labels(app: GrueApp) -> list[str]:
    menu = app.screen.query_one(OptionList)
    return [str(menu.get_option_at_index(i).prompt) for i in range(menu.option_count)]


def save_turns(app: GrueApp) -> int:
    """The turn count the home screen's list shows for the one save."""
    found = [re.search(r" · (\d+) turns? · ", label) for label in menu_labels(app)]
    counts = [int(m.group(1)) for m in found if m]
    assert len(counts) == 1, menu_labels(app)
    return counts[0]


async def test_ctrl_q_in_a_game_saves_and_goes_home_then_quits() -> None:
    campaign = campaign_from_scenario(find_scenario("rain-on-ninth"), Settings())
    campaign.begin_turn("do", "> You look at the photograph.").responses.append("It is old.")
    write_save(campaign)  # a played game (unplayed ones sit under a fold on the home screen)
    backend = FakeBackend(["Rain drums on the window."])
    app = GrueApp(host=host_with(backend))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.pause(0.2)
        assert save_turns(app) == 1  # the player's one turn
        await pilot.press("enter")  # the newest save
        await wait_until(pilot, lambda: isinstance(app.screen, AdventureScreen))
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"wait", "enter")
        await wait_until(pilot, lambda: screen.pending is None
                         and len(screen.game.campaign.turns) == 3)
        await pilot.press("f2")  # a dialog open above the game: Ctrl+Q still goes home
        await pilot.pause()
        assert isinstance(app.screen, TextEditDialog)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert app.is_running and app.game is None
        assert len(app.screen_stack) == 2  # Textual's default screen, then home
        assert load_save(save_path(campaign)).turns[-1].response == "Rain drums on the window."
        assert save_turns(app) == 2  # the list is fresh
        assert (await footer(pilot, app))[:2] == [("F1", "Help"), ("^Q", "Quit")]
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
        assert not app.is_running


async def test_ctrl_q_in_a_game_opened_from_the_command_line_goes_home() -> None:
    game = new_game()
    app = GrueApp(game=game, host=host_with(FakeBackend()))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        assert any(s.path == save_path(game.campaign) for s in list_saves())
        await wait_until(pilot, lambda: "ready" in rendered(app.screen.query_one("#model",
                                                                                 Static)))
        assert app.is_running


async def stopped_status(game: Game) -> str:
    """The status line after Esc stops a long reply (the partial text is kept)."""
    backend = FakeBackend(["slow " * 400], delay=0.01)
    app = GrueApp(game=game, host=host_with(backend))
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, AdventureScreen)
        await wait_until(pilot, lambda: screen.model_ready)
        await pilot.press(*"wait", "enter")
        await wait_until(pilot, lambda: screen.pending is not None)
        await pilot.pause(0.2)
        await pilot.press("escape")
        await wait_until(pilot, lambda: screen.pending is None)
        await pilot.pause()
        return rendered(screen.query_one(StatusBar))


async def test_stopped_status_names_the_undo_key_of_this_screen() -> None:
    assert (await stopped_status(new_game())).startswith("stopped · kept (F6 undo) │ ctx ")
    card = load_character("Maren Holloway")
    chat = game_for(campaign_from_card(card, "Ada"))
    # F6 is the next swipe in a chat (it said "F6 undo" there); undo is a command
    assert (await stopped_status(chat)).startswith("stopped · kept (/undo) │ ctx ")
