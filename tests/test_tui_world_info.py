"""The world-info editor driven with Pilot at 80x24."""

from __future__ import annotations

from rich.text import Text
from textual.app import App
from textual.widgets import DataTable, Input, Static, TextArea
from textual.widgets._footer import FooterKey

from tui.engine.campaign import Campaign
from tui.engine.lore import Lorebook, LoreEntry
from tui.screens.world_info import WorldInfoScreen, entry_matches
from tui.widgets.lore_form import LoreEntryDialog, split_keys


def make_campaign() -> Campaign:
    campaign = Campaign(title="Test")
    campaign.world_info = Lorebook(name="World info", entries=[
        LoreEntry(uid="d", name="Dragon", keys=["dragon", "wyrm"], content="A red [b]dragon[/b]."),
        LoreEntry(uid="c", name="Castle", keys=["castle"], content="Grey stone walls."),
    ])
    campaign.lorebooks = [Lorebook(name="Extra", entries=[
        LoreEntry(uid="s", name="Sun", constant=True, content="The sun never sets."),
    ])]
    return campaign


class Host(App[None]):
    def __init__(self, campaign: Campaign) -> None:
        super().__init__()
        self.campaign = campaign
        self.changes = 0

    def on_mount(self) -> None:
        self.push_screen(WorldInfoScreen(self.campaign, self.changed))

    def changed(self) -> None:
        self.changes += 1


def cell_texts(app: App[None]) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(table.get_row_at(i)[3]) for i in range(table.row_count)]


def footer_keys(app: App[None]) -> list[str]:
    """Descriptions of the footer keys that are drawn wholly inside the screen."""
    screen = app.screen.region
    return [key.description for key in app.screen.query(FooterKey)
            if key.region.width and screen.contains_region(key.region)]


def static_text(app: App[None], selector: str) -> str:
    widget = app.screen.query_one(selector, Static)
    content = widget.render()
    return str(content)


def test_split_keys_keeps_regex_commas() -> None:
    assert split_keys(" dragon, wyrm ,, /a{1,3}b/i , x") == ["dragon", "wyrm", "/a{1,3}b/i", "x"]
    assert split_keys("") == []


def test_entry_matches_searches_every_field() -> None:
    entry = LoreEntry(name="Dragon", keys=["wyrm"], content="scales")
    assert entry_matches("Book", entry, "WYRM scales")
    assert entry_matches("Book", entry, "book")
    assert not entry_matches("Book", entry, "castle")


async def test_list_toggle_search_and_delete() -> None:
    campaign = make_campaign()
    app = Host(campaign)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        assert cell_texts(app) == ["Dragon", "Castle", "Sun"]
        table = app.screen.query_one(DataTable)
        assert str(table.get_row_at(2)[1]) == "C"  # constant marker
        await pilot.press("space")  # toggle Dragon off
        assert campaign.world_info.entries[0].enabled is False
        assert str(table.get_row_at(0)[0]) == "·"
        assert app.changes == 1
        await pilot.press("space")
        assert campaign.world_info.entries[0].enabled is True
        # search
        await pilot.press("slash", *"stone")
        await pilot.pause()
        assert cell_texts(app) == ["Castle"]
        await pilot.press("enter")  # back to the table
        assert isinstance(app.screen.focused, DataTable)
        # delete with confirm: declining keeps it
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert len(campaign.world_info.entries) == 2
        await pilot.press("delete")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert [e.name for e in campaign.world_info.entries] == ["Dragon"]
        assert app.changes == 3
        assert cell_texts(app) == []
        await pilot.press("slash", "ctrl+u")  # clear search
        await pilot.press("escape")
        await pilot.pause()
        assert cell_texts(app) == ["Dragon", "Sun"]
        await pilot.press("escape")  # leave the screen
        await pilot.pause()
        assert not isinstance(app.screen, WorldInfoScreen)


async def test_add_and_edit_entry() -> None:
    campaign = make_campaign()
    app = Host(campaign)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, LoreEntryDialog)
        await pilot.press(*"Lantern")
        dialog.query_one("#keys", Input).value = "lantern, lamp"
        dialog.query_one("#content", TextArea).text = "An old brass lantern."
        dialog.query_one("#order", Input).value = "7"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, WorldInfoScreen)
        added = campaign.world_info.entries[-1]
        assert (added.name, added.keys, added.order) == ("Lantern", ["lantern", "lamp"], 7)
        assert added.content == "An old brass lantern." and added.uid
        assert "Lantern" in cell_texts(app)
        assert app.changes == 1
        # edit the highlighted (new) entry: a bad number is refused with a message
        await pilot.press("enter")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, LoreEntryDialog)
        dialog.query_one("#probability", Input).value = "150"
        dialog.query_one("#keys", Input).value = "lamp"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, LoreEntryDialog)
        assert "at most 100" in static_text(app, "#error")
        dialog.query_one("#probability", Input).value = "50"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert (added.keys, added.probability) == (["lamp"], 50)
        assert app.changes == 2
        # Esc in the form cancels without a change
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, WorldInfoScreen) and app.changes == 2


async def test_edit_to_no_keys_needs_constant() -> None:
    campaign = make_campaign()
    app = Host(campaign)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        app.screen.query_one("#keys", Input).value = " , "
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, LoreEntryDialog)
        assert campaign.world_info.entries[0].keys == ["dragon", "wyrm"]


async def test_test_box_explains_matches() -> None:
    campaign = make_campaign()
    app = Host(campaign)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("f5", *"A WYRM circles")
        await pilot.pause()
        result = static_text(app, "#test-result")
        assert "Dragon" in result and 'key "wyrm"' in result
        assert "Castle" not in result
        assert "Constant entries always go in: 1" in result
        await pilot.press("ctrl+u", *"a quiet field")
        await pilot.pause()
        assert "No keyed entry matches" in static_text(app, "#test-result")


async def test_untrusted_text_is_literal_and_footer_fits() -> None:
    campaign = make_campaign()
    campaign.world_info.entries[0].name = "[red]Boom[/red]\x1b[31m"
    app = Host(campaign)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        assert cell_texts(app)[0] == "[red]Boom[/red][31m"
        cell = app.screen.query_one(DataTable).get_row_at(0)[3]
        assert isinstance(cell, Text) and "\x1b" not in cell.plain
        assert "[b]dragon[/b]" in static_text(app, "#preview")
        shown = footer_keys(app)
        for key in ("Edit", "Add", "Delete", "On/off", "Search", "Test", "Back"):
            assert key in shown, f"{key} not in {shown}"


async def test_form_edits_scan_depth_group_weight_and_recursion_flags() -> None:
    from tui.widgets.checkbox import PlainCheckbox

    campaign = make_campaign()
    app = Host(campaign)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, LoreEntryDialog)
        dialog.query_one("#name", Input).value = "Echo"
        dialog.query_one("#keys", Input).value = "echo"
        dialog.query_one("#scan_depth", Input).value = "6"
        dialog.query_one("#group_weight", Input).value = "30"
        dialog.query_one("#prevent_recursion", PlainCheckbox).value = True
        dialog.query_one("#group_override", PlainCheckbox).value = True
        await pilot.press("ctrl+s")
        await pilot.pause()
        added = campaign.world_info.entries[-1]
        assert (added.scan_depth, added.group_weight) == (6, 30)
        assert added.prevent_recursion and added.group_override
        assert not added.exclude_recursion and not added.delay_until_recursion
