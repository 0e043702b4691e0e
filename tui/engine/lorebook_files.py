"""Lorebook files attached to a campaign: found by path or by name in `<home>/lorebooks/`."""

from __future__ import annotations

from pathlib import Path

from tui.core.paths import OutsideHome, home_subdir, user_path
from tui.engine.campaign import Campaign
from tui.engine.formats.lorebooks import LoreFormatError, read_lorebook
from tui.engine.lore import Lorebook


def lorebooks_dir() -> Path:
    return home_subdir("lorebooks")


def find_lorebook_file(name: str) -> Path:
    """A lorebook by path, or by file name (with or without .json) in the player's folder."""
    try:
        path = user_path(name)
    except OutsideHome as exc:
        raise LoreFormatError(str(exc)) from None
    if path.is_file():
        return path
    folder = lorebooks_dir()
    for candidate in (folder / name, folder / f"{name}.json", folder / f"{name}.lorebook"):
        if candidate.is_file():
            return candidate
    raise LoreFormatError(f"{name}: no such lorebook file")


def attach_lorebook(campaign: Campaign, name: str) -> Lorebook:
    """Load a lorebook and stack it on the campaign's world info. Raises LoreFormatError."""
    path = find_lorebook_file(name)
    book, _fmt = read_lorebook(path)
    if not book.name:
        book.name = path.stem
    campaign.lorebooks.append(book)
    return book


def describe_books(campaign: Campaign) -> list[str]:
    """One line per book: name and how many entries are enabled."""
    lines = []
    for book in campaign.all_lorebooks:
        enabled = sum(1 for e in book.entries if e.enabled)
        lines.append(f"{book.name or '(unnamed)'}: {enabled}/{len(book.entries)} entries enabled")
    return lines
