"""Line mode word-wraps on a terminal: no word is split between two lines."""

from __future__ import annotations

import io

from tui.plain_wrap import WrappingWriter, cells, wrapped

STORY = ("The last light of the day drains out of the sky as you reach the cottage at the end "
         "of the Lantern Road. Its shutters are closed and its chimney is cold. Beside the "
         "gate stands a rusted mailbox with its little flag raised.")


class Terminal(io.StringIO):
    def __init__(self, columns: int) -> None:
        super().__init__()
        self.columns = columns

    def isatty(self) -> bool:
        return True


def writer(columns: int) -> tuple[WrappingWriter, Terminal]:
    term = Terminal(columns)
    out = WrappingWriter(term)
    out.width = lambda: columns  # type: ignore[method-assign]
    return out, term


def test_streamed_text_breaks_at_spaces_within_the_width() -> None:
    out, term = writer(30)
    for start in range(0, len(STORY), 7):  # as the model streams it, in odd pieces
        out.write(STORY[start:start + 7])
    out.write("\n")
    lines = term.getvalue().splitlines()
    assert len(lines) > 5 and all(len(line) <= 30 for line in lines)
    assert " ".join(lines) == STORY  # every word whole, in order, nothing added or lost
    assert not any(line.startswith(" ") for line in lines)


def test_hard_line_starts_keep_their_spaces_and_wide_characters_count_twice() -> None:
    out, term = writer(20)
    out.write("[do] > look\n  indented line\n")
    assert term.getvalue() == "[do] > look\n  indented line\n"
    assert cells("灯笼路") == 6
    out.write("灯笼路 灯笼路 灯笼路 灯笼路\n")  # 6 + 1 + 6 + 1 + 6 = 20 columns, then a break
    assert term.getvalue().splitlines()[2:] == ["灯笼路 灯笼路 灯笼路", "灯笼路"]


def test_only_a_terminal_is_wrapped() -> None:
    pipe = io.StringIO()
    assert wrapped(pipe) is pipe
    assert isinstance(wrapped(Terminal(80)), WrappingWriter)


def test_a_prompt_shows_its_space_when_flushed() -> None:
    out, term = writer(80)
    out.write("\n[do] > ")
    out.flush()
    assert term.getvalue() == "\n[do] > "
