"""The settings screen: sampler preset and values, window, prompt style, template, backend.

It edits a copy: `on_save(new_settings)` is called only on Ctrl+S (or the Save button) with
values that passed every check; Esc leaves without a change.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Select, Static

from tui.backends.ignored import ignored_samplers
from tui.core.text import one_line
from tui.engine.campaign import Settings
from tui.engine.presets import (
    BUILTIN_PRESETS,
    PresetError,
    get_preset,
    list_presets,
    save_user_preset,
)
from tui.engine.templates import template_names
from tui.keys import bindings_for
from tui.widgets.key_footer import KeyFooter
from tui.widgets.settings_form import (
    BACKENDS,
    PROMPT_STYLES,
    SAMPLER_FIELDS,
    WINDOW_FIELDS,
    FieldError,
    NumberField,
    format_number,
    lenient_sampler,
    parse_sampler,
    parse_settings,
    same_sampling,
    unsupported_line,
)

CUSTOM = ""  # the preset Select's value for "values of my own"


class SettingsScreen(Screen[Settings | None]):
    BINDINGS = bindings_for("settings")
    CSS_PATH = "settings.tcss"

    def __init__(self, settings: Settings, on_save: Callable[[Settings], None]) -> None:
        super().__init__()
        self.settings = settings
        self.on_save = on_save
        self.applied_preset = self._known_preset(settings.preset) or self._matching_preset()

    @staticmethod
    def _known_preset(name: str) -> str:
        wanted = " ".join(name.split()).casefold()
        return next((n for n in list_presets() if n.casefold() == wanted), CUSTOM)

    def _matching_preset(self) -> str:
        """A built-in preset with exactly these values (the default sampler is one)."""
        return next((name for name, sampler in BUILTIN_PRESETS.items()
                     if same_sampling(sampler, self.settings.sampler)), CUSTOM)

    # --- layout -----------------------------------------------------------------------------

    def _number_row(self, field: NumberField, value: object) -> Horizontal:
        shown = "" if value is None else format_number(value)  # type: ignore[arg-type]
        return Horizontal(
            Label(field.label),
            Input(shown, id=field.name, compact=True,
                  type="integer" if field.integer else "number"),
            Label(field.hint, classes="hint"),
            classes="row",
        )

    def _select_row(self, label: str, wid: str, options: list[tuple[str, str]],
                    value: str) -> Horizontal:
        if value not in {v for _, v in options}:
            options = [*options, (one_line(value, 30), value)]
        return Horizontal(
            Label(label),
            Select(options, value=value, id=wid, allow_blank=False, compact=True),
            classes="row",
        )

    def _preset_options(self) -> list[tuple[str, str]]:
        return [("(my own values)", CUSTOM), *[(one_line(n, 40), n) for n in list_presets()]]

    def compose(self) -> ComposeResult:
        s = self.settings
        yield Static(Text("Settings · Ctrl+S saves · Esc cancels · Tab next field"), id="title",
                     markup=False)
        with VerticalScroll():
            yield Static("Sampling", classes="heading", markup=False)
            yield self._select_row("Preset", "preset", self._preset_options(),
                                   self.applied_preset)
            for field in SAMPLER_FIELDS:
                yield self._number_row(field, getattr(s.sampler, field.name))
            yield Static("Window", classes="heading", markup=False)
            for field in WINDOW_FIELDS:
                yield self._number_row(field, getattr(s, field.name))
            yield Horizontal(Label("Seed"), Input("" if s.seed is None else str(s.seed),
                                                  id="seed", type="integer", compact=True),
                             Label("empty = random", classes="hint"), classes="row")
            yield Static("Prompt", classes="heading", markup=False)
            yield self._select_row("Prompt style", "prompt_style",
                                   [(p, p) for p in PROMPT_STYLES], s.prompt_style)
            yield self._select_row("Template", "template",
                                   [("auto (the model's own)", "auto"),
                                    *[(n, n) for n in template_names()]], s.template)
            yield Static("Backend", classes="heading", markup=False)
            yield self._select_row("Backend", "backend", [(b, b) for b in BACKENDS], s.backend)
            yield Horizontal(Label("Server URL"), Input(s.url, id="url", compact=True,
                                                        placeholder="http://127.0.0.1:8080"),
                             classes="row")
            yield Static("Save these sampler values as a preset", classes="heading",
                         markup=False)
            yield Horizontal(Label("Preset name (F2)"),
                             Input(id="preset-name", compact=True,
                                   placeholder="type a name, Enter saves"),
                             classes="row")
        yield Static("", id="error", markup=False)
        yield Static("", id="unsupported", markup=False)
        with Horizontal(id="buttons"):
            yield Button("Save", id="save", variant="primary", compact=True)
            yield Button("Cancel", id="cancel", compact=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#preset", Select).focus()
        self.show_unsupported()

    # --- reading the form -------------------------------------------------------------------

    def form_values(self) -> dict[str, str]:
        values = {i.id: i.value for i in self.query(Input) if i.id}
        for select in self.query(Select):
            if select.id and isinstance(select.value, str):
                values[select.id] = select.value
        return values

    def show_unsupported(self) -> None:
        values = self.form_values()
        sampler = lenient_sampler(values, self.settings.sampler)
        backend = values.get("backend", "local")
        self.query_one("#unsupported", Static).update(
            Text(unsupported_line(backend, ignored_samplers(backend, sampler)), style="italic"))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "preset-name":
            self.show_unsupported()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "preset" and isinstance(event.value, str):
            if event.value != CUSTOM and event.value != self.applied_preset:
                self.apply_preset(event.value)
            self.applied_preset = event.value
        self.show_unsupported()

    def apply_preset(self, name: str) -> None:
        try:
            sampler = get_preset(name)
        except PresetError as exc:
            self.say(str(exc))
            return
        for field in SAMPLER_FIELDS:
            self.query_one(f"#{field.name}", Input).value = format_number(
                getattr(sampler, field.name))
        self.say("")

    def say(self, text: str) -> None:
        self.query_one("#error", Static).update(Text(one_line(text, 300)))

    def fail(self, exc: FieldError) -> None:
        self.say(str(exc))
        self.query_one(f"#{exc.field}").focus()

    # --- actions ----------------------------------------------------------------------------

    def chosen_preset(self, new_sampler_values: dict[str, str]) -> str:
        """The preset's name if the values are still exactly that preset's, else custom."""
        name = self.applied_preset
        if name == CUSTOM:
            return CUSTOM
        try:
            same = same_sampling(get_preset(name), parse_sampler(new_sampler_values,
                                                                 self.settings.sampler))
        except (PresetError, FieldError):
            return CUSTOM
        return name if same else CUSTOM

    def action_save(self) -> None:
        values = self.form_values()
        try:
            new = parse_settings(values, self.settings, self.chosen_preset(values))
        except FieldError as exc:
            self.fail(exc)
            return
        self.on_save(new)
        self.dismiss(new)

    def action_save_preset(self) -> None:
        name_input = self.query_one("#preset-name", Input)
        name = name_input.value.strip()
        if not name:
            name_input.focus()
            self.say("Type a name for the preset, then Enter.")
            return
        try:
            sampler = parse_sampler(self.form_values(), self.settings.sampler)
            save_user_preset(name, sampler)
        except FieldError as exc:
            self.fail(exc)
            return
        except (PresetError, OSError) as exc:
            self.say(str(exc))
            return
        select = self.query_one("#preset", Select)
        self.applied_preset = self._known_preset(name) or name
        select.set_options(self._preset_options())
        select.value = self.applied_preset
        name_input.value = ""
        self.say("")
        self.notify(f"Saved the preset {one_line(name, 40)!r}.")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "preset-name":
            self.action_save_preset()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)
