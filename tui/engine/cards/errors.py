"""The one error type card reading and writing raises, and the size caps it enforces."""

from __future__ import annotations

# Size caps. They are read at call time (``limits.X``), so tests may lower them.
MB = 1024 * 1024
MAX_FILE_BYTES = 64 * MB  # a card file (PNG, JSON or CHARX) on disk
MAX_CHUNK_BYTES = 48 * MB  # one PNG chunk's payload
MAX_TEXT_BYTES = 32 * MB  # a text chunk's text once inflated (zTXt / iTXt)
MAX_BASE64_BYTES = 48 * MB  # the base64 text of an embedded card
MAX_ZIP_ENTRIES = 1000  # entries in a CHARX zip
MAX_ZIP_ENTRY_BYTES = 64 * MB  # one CHARX entry once inflated
MAX_ZIP_TOTAL_BYTES = 256 * MB  # all CHARX entries once inflated


class CardError(Exception):
    """A card could not be read or written. The message is one line naming the file."""

    def __init__(self, filename: str, problem: str) -> None:
        self.filename = filename
        self.problem = " ".join(problem.split())
        super().__init__(f"{filename}: {self.problem}")


def human_size(n: int) -> str:
    """`16 MB`, `512 KB`, `12 bytes`: sizes in error messages."""
    if n >= MB and n % MB == 0:
        return f"{n // MB} MB"
    if n >= MB:
        return f"{n / MB:.1f} MB"
    if n >= 1024:
        return f"{n // 1024} KB"
    return f"{n} bytes"
