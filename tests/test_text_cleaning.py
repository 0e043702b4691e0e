"""Untrusted text is cleaned before it reaches the screen (docs/architecture.md, "Untrusted
text")."""

from tui.core.text import clean, one_line


def test_bidi_overrides_never_reach_the_screen() -> None:
    hostile = "invoice\u202etxt.exe \u2066isolated\u2069 \u202aembedded\u202c \u202dLTR\u202c"
    cleaned = clean(hostile)
    assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in cleaned)
    assert cleaned == "invoicetxt.exe isolated embedded LTR"


def test_controls_and_escapes_are_stripped_but_lines_kept() -> None:
    text = "a\x1b]52;c;SGVsbG8=\x07b\r\nc\x9b31md\te\x00"
    assert clean(text) == "a]52;c;SGVsbG8=b\nc31md\te"
    assert one_line("x\n\ny\u202e") == "x y"
