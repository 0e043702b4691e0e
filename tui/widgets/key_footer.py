"""The footer: the screen's keys, most important first, and only whole keys that fit.

Textual's own footer lists keys in binding order and lets the rest run off the right edge
(at 80 columns the game's F11, F12 and ^Q were never seen). This one orders the keys by the
footer priority in `tui/keys.py` and drops whole lower-priority keys that do not fit; F1 help
lists them all (docs/architecture.md, "Keys").
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from tui.keys import footer_rank


def footer_key_width(key_display: str, description: str, compact: bool) -> int:
    """Columns one key takes, as Textual's FooterKey styles draw it: compact is
    `key description` plus a one-column margin; wide is ` key description `."""
    return cell_len(key_display) + cell_len(description) + (2 if compact else 3)


class KeyFooter(Footer):
    def __init__(self, *, compact: bool = True, id: str | None = None) -> None:
        super().__init__(id=id, compact=compact, show_command_palette=False)
        self._composed_width = 0

    def shown_bindings(self) -> list[tuple[Binding, bool, str]]:
        """The screen's footer bindings, one per action, most important first."""
        seen: set[str] = set()
        items: list[tuple[Binding, bool, str]] = []
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            items.append((binding, enabled, tooltip))
        items.sort(key=lambda item: footer_rank(item[0].id))  # stable: ties keep their order
        return items

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self.size.width or self.app.size.width
        self._composed_width = width
        used = 0
        margin = 1 if self.compact else 0  # the last key's right margin may hang off the edge
        for binding, enabled, tooltip in self.shown_bindings():
            shown = self.app.get_key_display(binding)
            cost = footer_key_width(shown, binding.description, self.compact)
            if used + cost - margin > width:
                break  # drop this key and every less important one: never half a key
            used += cost
            yield FooterKey(
                binding.key, shown, binding.description, binding.action,
                disabled=not enabled, tooltip=tooltip or binding.description,
            ).data_bind(compact=Footer.compact)

    def on_resize(self, event: events.Resize) -> None:
        if self._bindings_ready and event.size.width != self._composed_width:
            self.call_after_refresh(self.recompose)
