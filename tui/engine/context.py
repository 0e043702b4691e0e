"""The context builder: fit everything the model should see into its token window.

Order (DESIGN.md section 3), keeping what changes least at the top so the backend can
reuse the evaluated prefix of the previous prompt:

1. system prompt, memory, card text, top lore, long-term summary  (the header)
2. story history, oldest first, trimmed from the top in large chunks
3. author's note and late lore, a few player actions from the end; @depth lore
4. the newest messages, the pending action, then the generation prompt

Every piece is tokenized on its own (template markers with special tokens parsed,
untrusted text without), and token ids are cached by content, so a turn never
re-tokenizes the whole history and the prompt only grows at its end between trims.
Each builder also keeps a ledger of the previous build's history (merged messages and
prefix sums of their costs): a build finds the unchanged prefix with C-speed list
comparisons, costs only the messages after it, and bisects the prefix sums to trim, so
a build does no per-message Python work for the story outside the window.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import accumulate
from typing import Any

from tui.engine.lore import Activation, Dropped, Lorebook, LoreSettings, LoreState, scan_lore
from tui.engine.templates import InstructTemplate

Tokenize = Callable[[str, bool], list[int]]

PLAYER = "player"
NARRATOR = "narrator"
NOTE = "note"

TOP_POSITIONS = {"before", "after", "before_examples", "after_examples"}


class TokenCache:
    """Token ids by (text, special), so each piece is tokenized once."""

    def __init__(self, tokenize: Tokenize, max_entries: int = 50_000) -> None:
        self._tokenize = tokenize
        self._cache: OrderedDict[tuple[str, bool], list[int]] = OrderedDict()
        self._max = max_entries

    def ids(self, text: str, special: bool = False) -> list[int]:
        if not text:
            return []
        key = (text, special)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        ids = self._tokenize(text, special)
        self._cache[key] = ids
        if len(self._cache) > self._max:
            self._cache.popitem(last=False)
        return ids

    def count(self, text: str) -> int:
        return len(self.ids(text))


@dataclass(frozen=True)
class Message:
    role: str  # PLAYER | NARRATOR
    text: str
    label: str
    kind: str = "story"  # segment kind shown in the report
    speaker: str = ""  # chat: the name shown before the text in plain story style


@dataclass
class HeaderPart:
    kind: str  # "system", "memory", "card", "lore", "summary", ...
    label: str
    text: str
    instruct_only: bool = False  # instructions that only make sense to an instruct model
    droppable: bool = False  # e.g. example dialogues: pushed out first as the story grows


@dataclass
class PromptSpec:
    """What to fit, independent of the window: built by the adventure or chat layer."""

    header: list[HeaderPart]
    history: list[Message]  # oldest first
    pending: Message | None = None  # the player's action being answered
    continue_last: bool = False  # generate more of the last narrator message
    note: str = ""
    note_depth: int = 3  # player actions from the end
    lorebooks: list[Lorebook] = field(default_factory=list)
    lore_settings: LoreSettings = field(default_factory=LoreSettings)
    lore_state: LoreState | None = None
    turn: int = 0
    seed: int = 0
    min_start: int = 0  # history before this index is covered by the summary
    macros: dict[str, str] = field(default_factory=dict)
    trailing_instruction: str = ""  # e.g. a card's post-history instructions
    reply_role: str = NARRATOR  # PLAYER to have the model write the player's line
    reply_speaker: str = ""  # chat: "Name:" starts the reply in plain story style
    extra_stops: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Segment:
    kind: str
    label: str
    text: str
    tokens: int
    start: int  # token offset in the prompt


@dataclass(frozen=True)
class TrimDrop:
    """Something left out of the prompt for lack of room."""

    what: str
    reason: str


@dataclass
class ContextReport:
    tokens: list[int]
    text: str
    segments: list[Segment]
    fired: list[Activation]
    dropped: list[Dropped]
    trimmed: list[TrimDrop]
    total_tokens: int
    window: int  # n_ctx
    budget: int  # n_ctx - max_new_tokens
    history_start: int  # first history message in the prompt
    history_total: int
    stop: list[str]
    lore_next_state: LoreState | None = None

    def tokens_by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for seg in self.segments:
            out[seg.kind] = out.get(seg.kind, 0) + seg.tokens
        return out


@dataclass(frozen=True)
class _Piece:
    kind: str
    label: str
    text: str
    special: bool  # template markers: parse special tokens


def apply_macros(text: str, macros: dict[str, str]) -> str:
    """Replace {{char}}/{{user}}-style macros, case-insensitively."""
    if not macros or ("{{" not in text and "<" not in text):
        return text
    pattern = re.compile("|".join(re.escape(k) for k in macros), re.IGNORECASE)
    lookup = {k.lower(): v for k, v in macros.items()}
    return pattern.sub(lambda m: lookup[m.group(0).lower()], text)


class Layout:
    """Turns header, messages and notes into pieces, for one prompt style."""

    def __init__(self, template: InstructTemplate | None) -> None:
        self.template = template

    @property
    def instruct(self) -> bool:
        return self.template is not None

    def header(self, parts: list[HeaderPart]) -> list[_Piece]:
        texts = [p for p in parts if p.text.strip()]
        if not texts:
            return []
        pieces: list[_Piece] = []
        if self.template:
            prefix, _ = self.template.wrap_system("")
            pieces.append(_Piece("template", "system start", prefix, True))
        for i, part in enumerate(texts):
            sep = "\n\n" if i < len(texts) - 1 else ""
            pieces.append(_Piece(part.kind, part.label, part.text.strip() + sep, False))
        if self.template:
            _, suffix = self.template.wrap_system("")
            pieces.append(_Piece("template", "system end", suffix, True))
        else:
            pieces.append(_Piece("template", "header end", "\n\n", False))
        return pieces

    def message(self, msg: Message, first: bool, open_end: bool = False) -> list[_Piece]:
        t = self.template
        if t is None and msg.speaker:
            lead = "" if first else "\n"
            return [_Piece(msg.kind, msg.label, f"{lead}{msg.speaker}: {msg.text}", False)]
        if t is None:
            if msg.role == PLAYER:
                lead = "" if first else "\n\n"
                tail = "\n" if msg.text.startswith(">") else ""
                return [_Piece(msg.kind, msg.label, lead + msg.text + tail, False)]
            lead = "" if first else ("\n\n" if not msg.text[:1].isspace() else "")
            return [_Piece(msg.kind, msg.label, lead + msg.text, False)]
        if msg.role == PLAYER:
            prefix, suffix = t.user_prefix, t.user_suffix
        else:
            prefix, suffix = t.assistant_prefix, t.assistant_suffix
        pieces = [
            _Piece("template", f"{msg.role} start", prefix, True),
            _Piece(msg.kind, msg.label, msg.text, False),
        ]
        if not open_end:
            pieces.append(_Piece("template", f"{msg.role} end", suffix, True))
        return pieces

    def note(self, parts: list[tuple[str, str, str]]) -> list[_Piece]:
        """The late block: author's note and late lore, as one short bracketed note."""
        parts = [p for p in parts if p[2].strip()]
        if not parts:
            return []
        body: list[_Piece] = []
        for i, (kind, label, text) in enumerate(parts):
            sep = "\n" if i < len(parts) - 1 else ""
            body.append(_Piece(kind, label, text.strip() + sep, False))
        t = self.template
        if t is None:
            return [
                _Piece("template", "note start", "\n\n[", False),
                *body,
                _Piece("template", "note end", "]", False),
            ]
        if t.has_system_role:
            prefix, suffix = t.system_prefix, t.system_suffix
        else:
            prefix, suffix = t.user_prefix, t.user_suffix
        return [
            _Piece("template", "note start", prefix + "[", True),
            *body,
            _Piece("template", "note end", "]" + suffix, True),
        ]

    def generation(self, continuing: bool, role: str = NARRATOR,
                   speaker: str = "") -> list[_Piece]:
        if continuing:
            return []
        if self.template is None:
            if speaker:
                return [_Piece("template", "response start", f"\n{speaker}:", False)]
            return []
        prefix = self.template.user_prefix if role == PLAYER else self.template.assistant_prefix
        return [_Piece("template", "response start", prefix, True)]

    def stops(self, extra: list[str] | None = None) -> list[str]:
        stops = list(extra or [])
        if self.template:
            stops.extend(s for s in self.template.stops if s not in stops)
        return stops


def common_prefix(a: list[Any], b: list[Any]) -> int:
    """Length of the longest common prefix of two lists.

    Only whole-slice comparisons, which run in C and short-cut on identical items; it
    gallops back from the end first because edits are usually recent.
    """
    n = min(len(a), len(b))
    if (a == b) if len(a) == len(b) else (a[:n] == b[:n]):
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo] and a[:hi] != b[:hi]
    step = 1
    while hi - step > lo:
        mid = hi - step
        if a[lo:mid] == b[lo:mid]:
            lo = mid
            break
        hi = mid
        step *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class _Ledger:
    """One build's history, kept so the next build only costs what changed. Never mutated
    (a build makes a new one), so a build on another thread can still read the old one."""

    cache: TokenCache | None  # what the costs were counted with (identity)
    layout: Layout | None
    template: InstructTemplate | None
    macros: dict[str, str]
    count: Callable[[str], int] | None  # the lore scanner's token counter, kept stable
    source: list[Message]  # spec.history as given
    merged: list[Message]  # macros applied, consecutive narration merged
    texts: list[str]  # merged[i].text
    origin: list[int]  # index in `source` of each merged message's first part
    prefix: list[int]  # prefix[i]: tokens of merged[:i], each rendered as not first


_NO_LEDGER = _Ledger(None, None, None, {}, None, [], [], [], [], [0])


def _counter(cache: TokenCache, macros: dict[str, str]) -> Callable[[str], int]:
    if not macros:
        return cache.count

    def count(text: str) -> int:
        return cache.count(apply_macros(text, macros))

    return count


def _merge_narration(history: list[Message]) -> list[Message]:
    """Consecutive narrator messages (a response and its continuations) form one turn."""
    merged: list[Message] = []
    for msg in history:
        if merged and msg.role == NARRATOR and merged[-1].role == NARRATOR:
            prev = merged[-1]
            merged[-1] = replace(prev, text=prev.text + msg.text)
        else:
            merged.append(msg)
    return merged


class ContextBuilder:
    """Builds prompts for one backend's tokenizer; keep one per loaded model."""

    def __init__(
        self,
        tokenize: Tokenize,
        n_ctx: int,
        max_new_tokens: int,
        template: InstructTemplate | None,
        prefix_tokens: list[int] | None = None,
        chunk_fraction: float = 0.25,
    ) -> None:
        if max_new_tokens >= n_ctx:
            raise ValueError(f"max_new_tokens ({max_new_tokens}) must be below n_ctx ({n_ctx})")
        self.cache = TokenCache(tokenize)
        self.n_ctx = n_ctx
        self.max_new_tokens = max_new_tokens
        self.layout = Layout(template)
        self.prefix_tokens = list(prefix_tokens or [])
        self.chunk_fraction = chunk_fraction
        self.incremental = True  # False: every build costs the whole history again
        self._ledger = _NO_LEDGER

    @property
    def budget(self) -> int:
        return self.n_ctx - self.max_new_tokens

    def _ids(self, piece: _Piece) -> list[int]:
        return self.cache.ids(piece.text, piece.special)

    def _cost(self, pieces: list[_Piece]) -> int:
        return sum(len(self._ids(p)) for p in pieces)

    def _history(self, spec: PromptSpec) -> _Ledger:
        """The merged, macro-applied history and its costs, reusing the last build's ledger
        for the unchanged prefix of `spec.history`."""
        macros = spec.macros
        source = spec.history
        old = self._ledger
        if (
            not self.incremental
            or old.cache is not self.cache
            or old.layout is not self.layout
            or old.template is not self.layout.template
            or old.macros != macros
        ):
            old = _NO_LEDGER
        same = common_prefix(source, old.source)
        if same == len(source) == len(old.source) and old is not _NO_LEDGER:
            return old
        # Redo the merged message holding the last unchanged source message: a new
        # narrator message may extend it. Its first part is unchanged, so the merge
        # decision at its start is the same as before.
        j = bisect_right(old.origin, same - 1) - 1 if same else 0
        start = old.origin[j] if same else 0
        merged = old.merged[:j]
        texts = old.texts[:j]
        origin = old.origin[:j]
        for i in range(start, len(source)):
            msg = source[i]
            if macros:
                msg = replace(msg, text=apply_macros(msg.text, macros))
            if merged and msg.role == NARRATOR and merged[-1].role == NARRATOR:
                merged[-1] = replace(merged[-1], text=merged[-1].text + msg.text)
            else:
                merged.append(msg)
                origin.append(i)
        new = merged[j:]
        texts.extend(m.text for m in new)
        costs = [self._cost(self.layout.message(m, first=False)) for m in new]
        prefix = old.prefix[: j + 1]
        prefix.extend(accumulate(costs, initial=prefix[-1]))
        del prefix[j + 1]  # accumulate repeats its initial value
        # One counter per ledger: the lore scanner keeps its token counts while it is the same.
        count = old.count or _counter(self.cache, dict(macros))
        ledger = _Ledger(self.cache, self.layout, self.layout.template, dict(macros), count,
                         list(source), merged, texts, origin, prefix)
        self._ledger = ledger
        return ledger

    def build(self, spec: PromptSpec) -> ContextReport:
        macros = spec.macros
        ledger = self._history(spec)
        history = ledger.merged  # shared with the ledger: read only
        pending = spec.pending
        if pending is not None:
            pending = replace(pending, text=apply_macros(pending.text, macros))
        header_parts = [
            replace(p, text=apply_macros(p.text, macros))
            for p in spec.header
            if self.layout.instruct or not p.instruct_only
        ]
        trimmed: list[TrimDrop] = []

        # World info: scan the story (newest last) and the pending action.
        scan = scan_lore(
            spec.lorebooks,
            ledger.texts,  # read only: the scanner looks at the newest few
            count_tokens=ledger.count or self.cache.count,
            window=self.n_ctx,
            settings=spec.lore_settings,
            state=spec.lore_state,
            turn=spec.turn,
            seed=spec.seed,
            extra_text=pending.text if pending else "",
        )
        fired = list(scan.activated)
        top_lore = [a for a in fired if self._is_top(a)]
        depth_lore = [a for a in fired if a.entry.position == "depth"]
        late_lore = [a for a in fired if a not in top_lore and a not in depth_lore]

        def lore_part(a: Activation) -> HeaderPart:
            name = a.entry.name or (a.entry.keys[0] if a.entry.keys else "entry")
            return HeaderPart("lore", f"lore: {name}", apply_macros(a.entry.content, macros))

        # Insert top lore after memory (before the summary).
        header_with_lore: list[HeaderPart] = []
        summary_parts = [p for p in header_parts if p.kind == "summary"]
        for part in header_parts:
            if part.kind != "summary":
                header_with_lore.append(part)
        header_with_lore.extend(lore_part(a) for a in top_lore)
        header_with_lore.extend(summary_parts)

        note_parts: list[tuple[str, str, str]] = []
        for a in late_lore:
            lp = lore_part(a)
            note_parts.append((lp.kind, lp.label, lp.text))
        if spec.note.strip():
            note_parts.append(("note", "author's note", apply_macros(spec.note, macros)))
        continuing = spec.continue_last and pending is None and bool(history) and \
            history[-1].role == NARRATOR
        fixed_tail = self.layout.generation(continuing, spec.reply_role, spec.reply_speaker)
        if spec.trailing_instruction.strip() and not continuing:
            # After the newest message, right before the reply (a card's post-history
            # instructions): it changes only the tail, so the prefix cache holds.
            fixed_tail = self.layout.note([("instruction", "post-history instructions",
                                            apply_macros(spec.trailing_instruction, macros))]
                                          ) + fixed_tail
        pending_pieces = self.layout.message(pending, first=not history) if pending else []

        def header_cost(parts: list[HeaderPart]) -> int:
            return len(self.prefix_tokens) + self._cost(self.layout.header(parts))

        # Costs of the history messages as rendered (not first): prefix sums from the ledger;
        # only the newest message differs when it is left open for a continuation.
        n = len(history)
        prefix = ledger.prefix
        last_cost = 0
        if n:
            last_cost = prefix[n] - prefix[n - 1]
            if continuing:
                last_cost = self._cost(self.layout.message(history[-1], first=False,
                                                           open_end=True))
        total = prefix[n - 1] + last_cost if n else 0
        min_start = max(0, spec.min_start)

        depth_pieces: dict[int, list[_Piece]] = {}
        for a in depth_lore:
            lp = lore_part(a)
            depth_pieces.setdefault(max(0, a.entry.depth), []).extend(
                self.layout.note([(lp.kind, lp.label, lp.text)])
            )

        def late_cost() -> int:
            cost = self._cost(self.layout.note(note_parts))
            for pieces in depth_pieces.values():
                cost += self._cost(pieces)
            return cost

        fixed = header_cost(header_with_lore) + late_cost() + self._cost(pending_pieces) + \
            self._cost(fixed_tail)
        keep_last = 1 if history else 0  # the newest message always survives
        newest_cost = (last_cost if keep_last else 0) + 2  # + first-render slack

        # Make room for the newest message: drop late lore, then depth lore, the summary,
        # top lore; the report names each.
        def over() -> bool:
            return fixed + newest_cost > self.budget

        while over() and late_lore:
            a = late_lore.pop()
            fired.remove(a)
            trimmed.append(TrimDrop(f"lore: {a.entry.name}", "context window full"))
            note_parts = [p for p in note_parts if p[1] != f"lore: {a.entry.name}"]
            fixed = header_cost(header_with_lore) + late_cost() + self._cost(pending_pieces) + \
                self._cost(fixed_tail)
        while over() and depth_pieces:
            depth = max(depth_pieces)
            del depth_pieces[depth]
            trimmed.append(TrimDrop(f"lore at depth {depth}", "context window full"))
            fixed = header_cost(header_with_lore) + late_cost() + self._cost(pending_pieces) + \
                self._cost(fixed_tail)
        for kind in ("summary", "lore", "note", "memory"):
            if not over():
                break
            kept = [p for p in header_with_lore if p.kind != kind]
            if kind == "note":
                if note_parts:
                    trimmed.append(TrimDrop("author's note", "context window full"))
                    note_parts = []
            elif len(kept) != len(header_with_lore):
                for p in header_with_lore:
                    if p.kind == kind:
                        trimmed.append(TrimDrop(p.label, "context window full"))
                header_with_lore = kept
                if kind == "lore":
                    fired = [a for a in fired if a not in top_lore]
            fixed = header_cost(header_with_lore) + late_cost() + self._cost(pending_pieces) + \
                self._cost(fixed_tail)

        # Example dialogues and other droppable parts leave before any story does.
        history_cost = total - prefix[min_start] if min_start < n else 0
        while history_cost > self.budget - fixed and any(p.droppable for p in header_with_lore):
            index = max(i for i, p in enumerate(header_with_lore) if p.droppable)
            dropped_part = header_with_lore.pop(index)
            trimmed.append(TrimDrop(dropped_part.label, "pushed out by the growing story"))
            fixed = header_cost(header_with_lore) + late_cost() + self._cost(pending_pieces) + \
                self._cost(fixed_tail)
        header_final = header_with_lore

        # Choose where history starts: the newest messages that fit, trimmed in big chunks.
        avail = self.budget - fixed
        start = self._history_start(prefix, n, total, avail, min_start)
        if start > 0:
            trimmed.append(TrimDrop(f"story messages 1-{start}", "older than the window holds"))

        # Render the final piece list.
        pieces: list[_Piece] = []
        pieces.extend(self.layout.header(header_final))
        kept = list(range(start, len(history)))
        # Where the note goes: before the note_depth-th last player action.
        seq: list[Message] = [history[i] for i in kept] + ([pending] if pending else [])
        note_at = _note_index(seq, spec.note_depth)
        note_pieces = self.layout.note(note_parts)
        for pos, msg in enumerate(seq):
            from_end = len(seq) - pos
            if pos == note_at:
                pieces.extend(note_pieces)
            if from_end in depth_pieces:
                pieces.extend(depth_pieces.pop(from_end))
            is_pending = pending is not None and pos == len(seq) - 1
            open_end = continuing and not is_pending and pos == len(seq) - 1
            pieces.extend(self.layout.message(msg, first=(pos == 0 and not header_final),
                                              open_end=open_end))
        if note_at >= len(seq):
            pieces.extend(note_pieces)
        for depth in sorted(depth_pieces, reverse=True):
            pieces.extend(depth_pieces[depth])
        pieces.extend(fixed_tail)

        tokens, segments = self._assemble(pieces)
        # Last resort: cut the oldest kept text until the prompt fits. Never exceed the budget.
        if len(tokens) > self.budget:
            excess = len(tokens) - self.budget
            tokens = tokens[: len(self.prefix_tokens)] + tokens[len(self.prefix_tokens) + excess:]
            trimmed.append(TrimDrop(f"{excess} tokens from the top", "newest text alone fills "
                                    "the window"))
            segments = _shift_segments(segments, len(self.prefix_tokens), excess)
        text = "".join(s.text for s in segments)
        return ContextReport(
            tokens=tokens,
            text=text,
            segments=segments,
            fired=fired,
            dropped=list(scan.dropped),
            trimmed=trimmed,
            total_tokens=len(tokens),
            window=self.n_ctx,
            budget=self.budget,
            history_start=start,
            history_total=len(history),
            stop=self.layout.stops(spec.extra_stops),
            lore_next_state=scan.next_state,
        )

    @staticmethod
    def _is_top(a: Activation) -> bool:
        pos = a.entry.position
        if pos in TOP_POSITIONS:
            return True
        return pos == "auto" and a.entry.constant

    def _history_start(
        self, prefix: list[int], n: int, total: int, avail: int, min_start: int
    ) -> int:
        """The first of `n` history messages to keep.

        `prefix[i]` is the cost of messages before i (i < n), `total` that of all n. The
        smallest start that fits is rounded up to a chunk boundary: boundaries sit where
        the running token total of the whole story crosses multiples of a quarter window,
        so the start (and the prompt's prefix) only moves in big steps. Both steps are
        bisections of the prefix sums (costs are never negative, so they never decrease).
        """
        if n == 0:
            return 0
        last = n - 1  # the newest message is always kept
        smallest = min(max(0, min_start), last)
        # The first start from `smallest` whose suffix fits: total - prefix[start] <= avail.
        smallest = bisect_left(prefix, total - avail, smallest, last)
        chunk = max(1, int(self.budget * self.chunk_fraction))
        before = prefix[smallest]
        target = -(-before // chunk) * chunk  # round up to a chunk boundary
        start = bisect_left(prefix, target, smallest, last)
        return start if prefix[start] >= target else smallest

    def _assemble(self, pieces: list[_Piece]) -> tuple[list[int], list[Segment]]:
        tokens: list[int] = list(self.prefix_tokens)
        segments: list[Segment] = []
        if self.prefix_tokens:
            segments.append(Segment("bos", "start of text", "", len(self.prefix_tokens), 0))
        for piece in pieces:
            ids = self._ids(piece)
            if not ids and not piece.text:
                continue
            segments.append(Segment(piece.kind, piece.label, piece.text, len(ids), len(tokens)))
            tokens.extend(ids)
        return tokens, segments


def _note_index(seq: list[Message], depth: int) -> int:
    """Index in `seq` before which the note goes: before the depth-th last player action."""
    if depth <= 0:
        return len(seq)
    seen = 0
    for pos in range(len(seq) - 1, -1, -1):
        if seq[pos].role == PLAYER:
            seen += 1
            if seen == depth:
                return pos
    return 0


def _shift_segments(segments: list[Segment], keep: int, excess: int) -> list[Segment]:
    """Segments after cutting `excess` tokens just after the first `keep` tokens."""
    out: list[Segment] = []
    cut_start, cut_end = keep, keep + excess
    for seg in segments:
        end = seg.start + seg.tokens
        if end <= cut_start:
            out.append(seg)
            continue
        if seg.start >= cut_end:
            out.append(Segment(seg.kind, seg.label, seg.text, seg.tokens, seg.start - excess))
            continue
        remaining = seg.tokens - (min(end, cut_end) - max(seg.start, cut_start))
        if remaining > 0:
            new_start = seg.start if seg.start < cut_start else cut_start
            out.append(Segment(seg.kind, seg.label + " (cut)", seg.text, remaining, new_start))
    return out
