"""Word wrapping for line mode on a terminal: the terminal itself breaks a long line at the
last column, mid-word ("the ga" / "rden wall"); this breaks it at the last space that fits.

Text is written through as it streams, except the word being written, which waits for the
space or line end after it (so a word is never split between lines). Only what goes to a
terminal is wrapped: a pipe or a file gets the text as it is.
"""

from __future__ import annotations

import os
import unicodedata
from typing import TextIO


def cells(text: str) -> int:
    """Terminal columns `text` takes: wide (CJK) characters take two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


class WrappingWriter:
    """A text stream over `out` that breaks lines at spaces before the terminal's width."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.column = 0
        self.word = ""
        self.spaces = 0  # spaces after the last word, written before the next one

    def width(self) -> int:
        try:
            return max(20, os.get_terminal_size(self.out.fileno()).columns)
        except (OSError, ValueError):
            return 80

    def write(self, text: str) -> int:
        for ch in text:
            if ch == "\n":
                self._put_word()
                self._put_spaces()
                self.out.write("\n")
                self.column = 0
            elif ch == " ":
                self._put_word()
                self.spaces += 1
            else:
                self.word += ch
        return len(text)

    def _put_word(self) -> None:
        """The word just ended: on this line after the spaces before it, or on the next."""
        if not self.word:
            return
        size = cells(self.word)
        if self.column and self.column + self.spaces + size > self.width():
            self.out.write("\n")  # the spaces before the word become the break
            self.column, self.spaces = 0, 0
        self._put_spaces()
        self.out.write(self.word)
        self.column += size
        self.word = ""

    def _put_spaces(self) -> None:
        if self.spaces:
            self.out.write(" " * self.spaces)
            self.column += self.spaces
            self.spaces = 0

    def line_read(self) -> None:
        """The player's line was echoed and ended with Enter: the cursor is at column 0."""
        self._put_word()
        self.column, self.spaces = 0, 0

    def flush(self) -> None:
        """Flushes the terminal (with the spaces after the last word: a prompt ends with
        one); a word still being written waits for its end."""
        self._put_spaces()
        self.out.flush()

    def end(self) -> None:
        """Write the word being written (the text ends here, e.g. before a prompt)."""
        self._put_word()
        self._put_spaces()
        self.out.flush()

    def fileno(self) -> int:
        return self.out.fileno()

    def isatty(self) -> bool:
        return self.out.isatty()


def wrapped(out: TextIO) -> TextIO:
    """`out`, word-wrapped when it is a terminal."""
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        tty = False
    return WrappingWriter(out) if tty else out  # type: ignore[return-value]
