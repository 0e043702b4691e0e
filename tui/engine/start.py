"""One way to start a game: from a scenario, a character card, an imported story or a save.

The command line and the TUI both call `start_game`; they differ only in how they ask the
player (stdin or dialogs), which they pass in as an `Asker`. Everything else — options and
`${...}` questions, settings given on the command line, persona, lorebooks, the first save —
happens here, in this order, so a bad lorebook or setting is reported before anything is
written (see docs/architecture.md, "Starting a game").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tui.engine.campaign import Campaign, Settings, campaign_from_scenario
from tui.engine.cards import Card
from tui.engine.presets import get_preset
from tui.engine.saves import load_save, save_path, unbind, write_save
from tui.engine.scenario import Scenario
from tui.engine.templates import UnknownTemplate, get_template

if TYPE_CHECKING:
    from tui.engine.chat_prompt import Persona
    from tui.engine.game import Game
    from tui.engine.scenario_start import AskQuestion, PickOption

# The options and sources are light; what starts a game (the game and chat engines, the
# prompt code, lorebook files) is imported by the functions that start one: the home screen
# needs only the options (docs/architecture.md, "Launch").

MIN_CTX = 256


class StartError(Exception):
    """A setting the player gave cannot be used, or a scenario needs answers no one can give.

    The message is one line, worded for the player (e.g. "--ctx must be at least 256").
    """


@dataclass(frozen=True)
class SettingsOverride:
    """Settings the player chose when starting (command-line options); None = keep.

    They override both the defaults of a new campaign and what a save says.
    """

    model: str | None = None
    backend: str | None = None
    url: str | None = None
    n_ctx: int | None = None
    max_new_tokens: int | None = None
    seed: int | None = None
    preset: str | None = None
    template: str | None = None
    prompt_style: str | None = None

    def check(self) -> None:
        """Raise StartError for a value no campaign could use."""
        if self.n_ctx is not None and self.n_ctx < MIN_CTX:
            raise StartError(f"--ctx must be at least {MIN_CTX}")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise StartError("--max-tokens must be positive")
        if self.preset is not None:
            try:
                get_preset(self.preset)
            except (KeyError, ValueError) as exc:
                raise StartError(str(exc).strip("'\"")) from exc
        if self.template is not None and self.template != "auto":
            try:
                get_template(self.template)
            except UnknownTemplate as exc:
                raise StartError(str(exc)) from exc

    def apply(self, settings: Settings) -> None:
        """Write the chosen values into `settings` (checked first; StartError if bad)."""
        self.check()
        for name in ("model", "backend", "url", "n_ctx", "max_new_tokens", "seed",
                     "template", "prompt_style"):
            value = getattr(self, name)
            if value is not None:
                setattr(settings, name, value)
        if self.preset is not None:
            settings.sampler = get_preset(self.preset)
            settings.preset = self.preset


@dataclass(frozen=True)
class StartOptions:
    """What the player asked for besides the story itself."""

    settings: SettingsOverride = field(default_factory=SettingsOverride)
    lorebooks: tuple[str, ...] = ()  # files or names in <home>/lorebooks, attached in order
    persona_name: str | None = None  # None: the default persona (chats only)
    persona_description: str = ""  # replaces the default persona's when given
    base: Settings | None = None  # a new campaign's settings before the overrides

    def new_settings(self) -> Settings:
        settings = Settings(**vars(self.base)) if self.base is not None else Settings()
        self.settings.apply(settings)
        return settings

    def persona(self) -> Persona:
        from tui.engine.chat_prompt import Persona
        from tui.engine.persona import default_persona

        persona = default_persona()
        if self.persona_name is not None:
            return Persona(self.persona_name, self.persona_description)
        if self.persona_description:
            return Persona(persona.name, self.persona_description)
        return persona


@dataclass(frozen=True)
class Asker:
    """How the front-end asks: a scenario's options (`pick`) and its `${...}` questions."""

    pick: PickOption
    ask: AskQuestion


@dataclass(frozen=True)
class SavedGame:
    """A save file to continue."""

    path: Path


@dataclass(frozen=True)
class ImportedStory:
    """A campaign made by an importer (e.g. a SillyTavern chat), not saved yet."""

    campaign: Campaign


StartSource = Scenario | Card | SavedGame | ImportedStory


def needs_asking(scenario: Scenario) -> bool:
    """Whether starting this scenario asks the player anything (options or questions)."""
    from tui.engine.placeholders import scenario_placeholders

    return bool(scenario.options or scenario_placeholders(scenario))


def start_game(source: StartSource, options: StartOptions | None = None,
               asker: Asker | None = None, save_folder: Path | None = None) -> Game | None:
    """The Game for `source`, saved once before play; None when the player cancelled.

    A scenario's options and questions are asked through `asker` (StartError when it needs
    asking and there is none). A save is loaded and the chosen settings override its own; it
    is not written until play changes it. Raises StartError, LoreFormatError or SaveError,
    each one line for the player.
    """
    from tui.engine.chat import game_for

    options = options or StartOptions()
    if isinstance(source, SavedGame):
        campaign = load_save(source.path, lock=True)  # one process plays a save at a time
        options.settings.apply(campaign.settings)
        _attach_lorebooks(campaign, options.lorebooks)
        return game_for(campaign, save_folder)
    campaign = new_campaign(source, options, asker)
    if campaign is None:
        return None
    first_save(campaign, save_folder)
    return game_for(campaign, save_folder)


def new_campaign(source: Scenario | Card | ImportedStory, options: StartOptions,
                 asker: Asker | None = None) -> Campaign | None:
    """A fresh campaign with settings, persona and lorebooks, not saved; None if cancelled."""
    settings = options.new_settings()  # bad options are reported before any question
    if isinstance(source, Scenario):
        scenario = _resolved(source, asker)
        if scenario is None:
            return None
        campaign = campaign_from_scenario(scenario, settings)
    elif isinstance(source, Card):
        from tui.engine.chat import campaign_from_card

        persona = options.persona()
        campaign = campaign_from_card(source, persona.name, persona.description, settings)
    else:
        campaign = source.campaign
        options.settings.apply(campaign.settings)
    _attach_lorebooks(campaign, options.lorebooks)
    return campaign


def check_options(options: StartOptions) -> None:
    """Raise what starting with `options` would raise about them (settings, lorebooks),
    without starting anything: for a front-end that starts the game later."""
    options.new_settings()
    _attach_lorebooks(Campaign(title="check"), options.lorebooks)


def first_save(campaign: Campaign, folder: Path | None = None) -> Path:
    """Write a new campaign's first save under an id no other save has (a story imported
    from a save is a new campaign: it never writes over the one it came from)."""
    unbind(campaign)
    base, n = campaign.id, 1
    while save_path(campaign, folder).exists():
        n += 1
        campaign.id = f"{base}-{n}"
    return write_save(campaign, folder)


def _resolved(scenario: Scenario, asker: Asker | None) -> Scenario | None:
    if asker is None:
        if needs_asking(scenario):
            raise StartError(f"{scenario.title}: this scenario asks questions before it starts")
        return scenario
    from tui.engine.scenario_start import resolve_scenario

    return resolve_scenario(scenario, asker.pick, asker.ask)


def _attach_lorebooks(campaign: Campaign, names: tuple[str, ...]) -> None:
    if not names:
        return
    from tui.engine.lorebook_files import attach_lorebook

    for name in names:
        attach_lorebook(campaign, name)
