"""World info (lorebook) entries and the scanner that decides which of them enter the prompt.

The scanner follows SillyTavern's semantics where they are documented (key logic, groups,
timed effects, recursion, budget) with two deliberate choices:

* Whole-word matching puts a boundary only at an edge of the key that is a word character of a
  script written with spaces, so "C++", "R2-D2" and "Dr. Who" match sensibly and CJK/Thai keys
  match as substrings. Multi-word keys match as phrases with those boundaries at their ends.
* Timed effects (sticky, cooldown, delay) are counted in turns, the unit the campaign commits.

Speed: keys are grouped by (case sensitivity, whole words) and each group is compiled once into a
single trie-shaped regex; matches are found per message and cached by message text, so a scan
of a long campaign only looks at messages it has not seen. Token counts are cached by content.

The package, by concern (docs/architecture.md):
  entries  entries and books, read leniently; settings, timers, what a scan reports
  keys     plain and regex key matching, the trie matcher
  index    the compiled index of a set of books, and the key logic of one entry
  cache    the index cache (rebuilt only when a key field changes), found keys, token counts
  scan     one scan: candidates, timed effects, recursion, the report
  groups   inclusion groups
  budget   the token budget (a total and a cap per book)
  scanner  LoreScanner, scan_lore, explain_matches
"""

from tui.engine.lore.entries import (
    LOGICS,
    POSITIONS,
    Activation,
    Dropped,
    Lorebook,
    LoreEntry,
    LoreSettings,
    LoreState,
    ScanResult,
    entry_id,
    resolve_position,
)
from tui.engine.lore.entries import _edits as _edits  # the edit counter (tests read it)
from tui.engine.lore.keys import match_plain, parse_regex_key
from tui.engine.lore.scanner import LoreScanner, explain_matches, scan_lore

__all__ = [
    "LOGICS",
    "POSITIONS",
    "Activation",
    "Dropped",
    "LoreEntry",
    "LoreScanner",
    "LoreSettings",
    "LoreState",
    "Lorebook",
    "ScanResult",
    "entry_id",
    "explain_matches",
    "match_plain",
    "parse_regex_key",
    "resolve_position",
    "scan_lore",
]
