"""Widgets' styles live in `.tcss` files beside their modules.

Textual loads `CSS_PATH` files only for apps and screens; a widget's own styles must be its
`DEFAULT_CSS` (scoped to the widget, and overridable by the app's stylesheet). So a widget
reads its `.tcss` file into `DEFAULT_CSS` (docs/architecture.md, "Styles").
"""

from __future__ import annotations

from pathlib import Path


def css_beside(module_file: str) -> str:
    """The text of the `.tcss` file named like `module_file` (`story_view.py` →
    `story_view.tcss`), installed with the package."""
    return Path(module_file).with_suffix(".tcss").read_text(encoding="utf-8")
