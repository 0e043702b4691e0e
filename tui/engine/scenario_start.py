"""Starting a scenario: choose among its options, then fill its `${...}` questions.

The asking is done by the caller (TUI dialogs or plain stdin) through two callbacks, so
both front ends follow the same rules.
"""

from __future__ import annotations

from collections.abc import Callable

from tui.engine.placeholders import fill_placeholders, scenario_placeholders
from tui.engine.scenario import Scenario

PickOption = Callable[[str, list[str]], int | None]
AskQuestion = Callable[[str, str], str | None]

MENU_PROMPT_CHARS = 2000  # a menu's own prompt shown above its options, at most


def menu_heading(scenario: Scenario) -> str:
    """What a menu shows above its options: its title, then (after a blank line) its own
    prompt, as AI Dungeon shows it. Front ends split it with `str.partition("\n\n")`."""
    title = " ".join(scenario.title.split()) or "Choose"
    prompt = scenario.opening.strip()
    if len(prompt) > MENU_PROMPT_CHARS:
        prompt = prompt[:MENU_PROMPT_CHARS].rstrip() + "…"
    return f"{title}\n\n{prompt}" if prompt else title


def resolve_scenario(scenario: Scenario, pick: PickOption, ask: AskQuestion) -> Scenario | None:
    """The playable scenario, or None when the player cancelled."""
    while scenario.options:
        titles = [o.title or f"option {i + 1}" for i, o in enumerate(scenario.options)]
        choice = pick(menu_heading(scenario), titles)
        if choice is None or not 0 <= choice < len(scenario.options):
            return None
        scenario = scenario.options[choice]
    answers: dict[str, str] = {}
    for placeholder in scenario_placeholders(scenario):
        answer = ask(placeholder.question, placeholder.default)
        if answer is None:
            return None
        answers[placeholder.key] = answer
    return fill_placeholders(scenario, answers) if answers else scenario
