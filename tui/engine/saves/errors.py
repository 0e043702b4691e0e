"""The one error a save can raise."""

from __future__ import annotations


class SaveError(Exception):
    """A save could not be read or written; the message is one line naming the file."""
