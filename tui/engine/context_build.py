"""One prompt build, in named steps: scan the lore; lay out the header, the late note, the lore
at a depth and the tail; cost the history; make room (late lore, depth lore, summary, top lore,
note, memory, then example dialogues); choose where the story starts; render, assemble the
tokens and report (docs/architecture.md, the context builder)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, replace

from tui.engine.context_layout import Layout, _Piece, apply_macros
from tui.engine.context_ledger import TokenCache, _Ledger
from tui.engine.context_types import (
    NARRATOR,
    NOTE,
    PLAYER,
    ContextReport,
    HeaderPart,
    Message,
    PromptSpec,
    Segment,
    TrimDrop,
)
from tui.engine.context_world import (
    Part,
    new_world_note,
    placed_in_story,
    world_note_text,
    world_notes,
)
from tui.engine.lore import Activation, ScanResult, scan_lore
from tui.engine.world.prompt import WORLD_KIND

TOP_POSITIONS = {"before", "after", "before_examples", "after_examples"}

_FULL = "context window full"


@dataclass
class FrontMemory:
    """What a builder's last build began its window with (docs/architecture.md, "The context
    builder"): the first history message (its index and the object, to know the history is
    the same) and how many leading pieces of it were cut. A kept world note the start
    reaches loses its first sentences one build at a time, never getting them back: only a
    cut that grows is a span the model's cache can drop and shift past."""

    index: int = -1
    message: object = None
    cut: int = 0


class _Build:
    """One build: what is still in the prompt and what was trimmed. `run` names the steps."""

    def __init__(
        self,
        spec: PromptSpec,
        ledger: _Ledger,
        *,
        cache: TokenCache,
        layout: Layout,
        n_ctx: int,
        budget: int,
        prefix_tokens: list[int],
        history_start: Callable[[list[int], int, int, int, int], int],
        front: FrontMemory | None = None,
    ) -> None:
        self.cache = cache
        self.front = front  # None: no partial note at the window's start (no shifting)
        self.layout = layout
        self.n_ctx = n_ctx
        self.budget = budget
        self.prefix_tokens = prefix_tokens
        self.history_start = history_start
        self.spec = spec
        self.ledger = ledger
        self.history = ledger.merged  # shared with the ledger: read only
        self.macros = spec.macros
        pending = spec.pending
        if pending is not None:
            pending = replace(pending, text=apply_macros(pending.text, self.macros))
        self.pending = pending
        self.continuing = (
            spec.continue_last
            and pending is None
            and bool(self.history)
            and self.history[-1].role == NARRATOR
        )
        self.trimmed: list[TrimDrop] = []

    def run(self) -> ContextReport:
        self._scan_lore()
        self._header()
        self._late_segments()
        self._tail()
        self._history_costs()
        self._make_room()
        start = self._history_window()
        # A kept note the window left holds nothing now: place what it held anew. The note
        # only grows, so the start only moves on; a few rounds settle it.
        for _round in range(3):
            if not (self.world_kept and min(self.world_kept) < start):
                break
            self._place_world(first=start)
            self.fixed = self._fixed_cost()
            self.trimmed = [t for t in self.trimmed if not t.what.startswith("story messages")]
            start = self._history_window()
        pieces = self._render(start)
        pieces[self.front_at:self.front_at] = self._front_note(start, pieces)
        return self._report(pieces, start)

    # -- what goes in

    def _scan_lore(self) -> None:
        """World info: scan the story (newest last), the pending action and the world state's
        names (place, items, people present), and sort what
        fired by where it goes: the header, a depth in the story, or the late note."""
        spec = self.spec
        self.scan: ScanResult = scan_lore(
            spec.lorebooks,
            self.ledger.texts,  # read only: the scanner looks at the newest few
            count_tokens=self.ledger.count or self.cache.count,
            window=self.n_ctx,
            settings=spec.lore_settings,
            state=spec.lore_state,
            turn=spec.turn,
            seed=spec.seed,
            extra_text=self.pending.text if self.pending else "",
            state_texts=spec.world_names,
        )
        fired = list(self.scan.activated)
        self.fired = fired
        self.top_lore = [a for a in fired if _is_top(a)]
        self.depth_lore = [a for a in fired if a.entry.position == "depth"]
        self.late_lore = [a for a in fired if a not in self.top_lore and a not in self.depth_lore]

    def _lore_part(self, a: Activation) -> HeaderPart:
        name = a.entry.name or (a.entry.keys[0] if a.entry.keys else "entry")
        return HeaderPart("lore", f"lore: {name}", apply_macros(a.entry.content, self.macros))

    def _note_part(self, a: Activation) -> tuple[str, str, str]:
        lp = self._lore_part(a)
        return (lp.kind, lp.label, lp.text.strip())  # a note strips its parts anyway

    def _header(self) -> None:
        """The header parts that apply to this prompt style, with top lore inserted after
        memory (before the summary)."""
        parts = [
            replace(p, text=apply_macros(p.text, self.macros))
            for p in self.spec.header
            if self.layout.instruct or not p.instruct_only
        ]
        header = [p for p in parts if p.kind != "summary"]
        header.extend(self._lore_part(a) for a in self.top_lore)
        header.extend(p for p in parts if p.kind == "summary")
        self.header = header

    def _late_segments(self) -> None:
        """The late note (late lore, the world state, then the author's note) and lore at
        a depth. Lore and lines the world notes kept in the story hold are not repeated;
        with `anchor_world`, what they miss goes in a new world note (see context_world)."""
        self.world_new = ""
        self.world_parts: list[Part] = []
        self.world_kept: list[int] = []
        self.notes_dropped = False
        self.world_first = 0
        self.late_all = list(self.late_lore)  # in the order they fired
        self.world_lore = [a for a in self.late_lore if placed_in_story(a)]
        self.late_lore = [a for a in self.late_lore if not placed_in_story(a)]
        self.world_lines = apply_macros(self.spec.world, self.macros)
        self._place_world()
        self.depth_pieces: dict[int, list[_Piece]] = {}
        for a in self.depth_lore:
            self.depth_pieces.setdefault(max(0, a.entry.depth), []).extend(
                self.layout.note([self._note_part(a)])
            )

    def _place_world(self, first: int | None = None) -> None:
        """What of the state's lines and the lore placed in the story the world notes kept
        there (from `first` on) do not hold: a new world note before an action or a chat
        message; otherwise (a Continue, the inspector's view) it goes in the late note.
        `placing` is the lore that holds."""
        if first is not None:
            self.world_first = first
        prefix, n = self.ledger.prefix, len(self.history)
        # No note before this can be in the window: it holds at most `budget` tokens.
        floor = bisect_left(prefix, prefix[n - 1] - self.budget, 0, n - 1) if n else 0
        found, recent = world_notes(self.history, max(self.world_first, floor))
        lore = [self._note_part(a) for a in self.world_lore]
        missing, used = new_world_note(
            lore, self.world_lines, [self.history[i].text for i in found], recent)
        self.world_kept = [found[k] for k in used]
        self.world_parts = [] if self.notes_dropped else missing
        placed = set(self.world_parts)
        self.placing = [a for a, part in zip(self.world_lore, lore, strict=True)
                        if part in placed]
        self.note_parts: list[Part] = []
        if self.spec.anchor_world:
            self.world_new = world_note_text(self.world_parts)
            self.note_parts = [self._note_part(a) for a in self.late_lore]
        else:
            self.note_parts = [self._note_part(a) for a in self.late_all
                               if a in self.late_lore or a in self.placing]
            self.note_parts.extend(p for p in self.world_parts if p[0] == WORLD_KIND)
        if self.spec.note.strip() and not self.notes_dropped:
            self.note_parts.append(
                ("note", "author's note", apply_macros(self.spec.note, self.macros))
            )

    @property
    def _world_in_note(self) -> bool:
        """A new world note and a late note just before the action make one note, the
        world's part first: the next prompt holds that part as a note of its own, and its
        tokens are the same up to where the part ends."""
        return self.spec.note_depth == 1 and self.pending is not None

    def _late_note(self) -> list[_Piece]:
        if self.world_new and self._world_in_note:
            return self.layout.note([*self.world_parts, *self.note_parts], by_line=True)
        return self.layout.note(self.note_parts)

    def _world_pieces(self) -> list[_Piece]:
        """A new world note placed apart: before the action, after a late note higher up."""
        if not self.world_new or self._world_in_note:
            return []
        return self.layout.note(self.world_parts, by_line=True)

    def _tail(self) -> None:
        """The pending action and what follows the story: instructions, generation prompt."""
        spec, layout = self.spec, self.layout
        tail = layout.generation(self.continuing, spec.reply_role, spec.reply_speaker)
        if spec.reply_start and not self.continuing:
            lead = " " if spec.reply_speaker and layout.template is None else ""
            tail.append(_Piece("action", "your words so far", lead + spec.reply_start, False))
        if spec.trailing_instruction.strip() and not self.continuing:
            # After the newest message, right before the reply (a card's post-history
            # instructions): it changes only the tail, so the prefix cache holds.
            instruction = apply_macros(spec.trailing_instruction, self.macros)
            tail = layout.note([("instruction", "post-history instructions", instruction)]) + tail
        self.fixed_tail = tail
        pending = self.pending
        self.pending_pieces = layout.message(pending, first=not self.history) if pending else []

    def _history_costs(self) -> None:
        """Costs of the history messages as rendered (not first): prefix sums from the ledger;
        only the newest message differs when it is left open for a continuation."""
        history, prefix = self.history, self.ledger.prefix
        n = len(history)
        last_cost = 0
        if n:
            last_cost = prefix[n] - prefix[n - 1]
            if self.continuing:
                last_cost = self._cost(self.layout.message(history[-1], first=False, open_end=True))
        self.total = prefix[n - 1] + last_cost if n else 0
        # The newest message always survives; + first-render slack.
        self.newest_cost = (last_cost if history else 0) + 2

    # -- making room

    def _ids(self, piece: _Piece) -> list[int]:
        return self.cache.ids(piece.text, piece.special)

    def _cost(self, pieces: list[_Piece]) -> int:
        return sum(len(self._ids(p)) for p in pieces)

    def _fixed_cost(self) -> int:
        """Tokens of everything but the story history."""
        cost = self._cost
        fixed = len(self.prefix_tokens) + cost(self.layout.header(self.header))
        fixed += cost(self._late_note()) + cost(self._world_pieces())
        for pieces in self.depth_pieces.values():
            fixed += cost(pieces)
        pending = max(cost(self.pending_pieces), self.spec.reserve_tokens)
        return fixed + pending + cost(self.fixed_tail)

    def _over(self) -> bool:
        return self.fixed + self.newest_cost > self.budget

    def _make_room(self) -> None:
        """Make room for the newest message: drop late lore, then depth lore, the summary,
        top lore, the note and memory; then the droppable header parts (example dialogues),
        before any story. The report names each."""
        self.fixed = self._fixed_cost()
        self._drop_late_lore()
        self._drop_depth_lore()
        self._drop_header_kinds()
        self._drop_droppable_parts()

    def _drop_late_lore(self) -> None:
        """The late note's lore, then the lore a new world note would place (what a kept
        note holds costs nothing now: it stays)."""
        while self._over() and (self.late_lore or self.placing):
            if self.late_lore:
                a = self.late_lore.pop()
            else:
                a = self.placing[-1]
                self.world_lore.remove(a)
            self.fired.remove(a)
            self.trimmed.append(TrimDrop(f"lore: {a.entry.name}", _FULL))
            self._place_world()
            self.fixed = self._fixed_cost()

    def _drop_depth_lore(self) -> None:
        while self._over() and self.depth_pieces:
            depth = max(self.depth_pieces)
            del self.depth_pieces[depth]
            self.trimmed.append(TrimDrop(f"lore at depth {depth}", _FULL))
            self.fixed = self._fixed_cost()

    def _drop_header_kinds(self) -> None:
        for kind in ("summary", "lore", "note", "memory"):
            if not self._over():
                break
            if kind == "note":
                self.trimmed.extend(TrimDrop(label, _FULL) for _k, label, _t in self.note_parts)
                if self.world_new:
                    self.trimmed.extend(TrimDrop(p[1], _FULL) for p in self.world_parts)
                self.notes_dropped = True
                self.late_lore = []
                self._place_world()
            else:
                self._drop_header_kind(kind)
            self.fixed = self._fixed_cost()

    def _drop_header_kind(self, kind: str) -> None:
        kept = [p for p in self.header if p.kind != kind]
        if len(kept) == len(self.header):
            return
        self.trimmed.extend(TrimDrop(p.label, _FULL) for p in self.header if p.kind == kind)
        self.header = kept
        if kind == "lore":
            self.fired = [a for a in self.fired if a not in self.top_lore]

    def _drop_droppable_parts(self) -> None:
        """Example dialogues and other droppable parts leave before any story does."""
        n, min_start = len(self.history), max(0, self.spec.min_start)
        history_cost = self.total - self.ledger.prefix[min_start] if min_start < n else 0
        header = self.header
        while history_cost > self.budget - self.fixed and any(p.droppable for p in header):
            index = max(i for i, p in enumerate(header) if p.droppable)
            dropped_part = header.pop(index)
            self.trimmed.append(TrimDrop(dropped_part.label, "pushed out by the growing story"))
            self.fixed = self._fixed_cost()

    def _history_window(self) -> int:
        """Where history starts: the newest messages that fit, trimmed in big chunks."""
        avail = self.budget - self.fixed
        n, min_start = len(self.history), max(0, self.spec.min_start)
        start = self.history_start(self.ledger.prefix, n, self.total, avail, min_start)
        if start > 0:
            self.trimmed.append(
                TrimDrop(f"story messages 1-{start}", "older than the window holds")
            )
        return start

    # -- what comes out

    def _render(self, start: int) -> list[_Piece]:
        """The final piece list: header, the kept story with the note and depth lore placed
        in it, the pending action, the tail."""
        layout, pending, depth_pieces = self.layout, self.pending, self.depth_pieces
        pieces: list[_Piece] = []
        pieces.extend(layout.header(self.header))
        self.front_at = len(pieces)  # where the end of a note the start reached goes
        # Where the note goes: before the note_depth-th last player action.
        seq: list[Message] = self.history[start:] + ([pending] if pending else [])
        # The late note goes after a world note kept before the same action: its state
        # lines, when they differ, are newer and must be read last. Depths do not count
        # kept notes.
        note_at = _note_index(seq, self.spec.note_depth)
        ends = _ends_not_counting_notes(seq)
        note_pieces = self._late_note()
        last = len(seq) - 1
        self.pending_piece = -1
        for pos, msg in enumerate(seq):
            from_end = ends[pos]
            is_pending = pending is not None and pos == last
            if is_pending:  # first, so the next turn's prompt holds it where it was read
                pieces.extend(self._world_pieces())
            if pos == note_at:
                pieces.extend(note_pieces)
            if from_end in depth_pieces:
                pieces.extend(depth_pieces.pop(from_end))
            open_end = self.continuing and not is_pending and pos == last
            first = pos == 0 and not self.header
            if is_pending:
                self.pending_piece = len(pieces)
            pieces.extend(layout.message(msg, first=first, open_end=open_end))
        if note_at >= len(seq):
            pieces.extend(note_pieces)
        for depth in sorted(depth_pieces, reverse=True):
            pieces.extend(depth_pieces[depth])
        pieces.extend(self.fixed_tail)
        return pieces

    def _front_note(self, start: int, rendered: list[_Piece]) -> list[_Piece]:
        """The end of the world note just before the window's start, as much of it as the
        room the `rendered` prompt leaves holds, whole sentences (`Layout.note`). A lore
        entry of 240 tokens leaving the window with its note took 12 % of a 2,000-token
        budget at once, and the start cannot move back to fill it without reading the whole
        prompt again; cutting the note's first sentences instead is a span the cache drops
        and shifts past. The room is costed only then: most builds have no such note."""
        memory, history = self.front, self.history
        if memory is None:
            return []
        first = start - 1
        cut = -1
        if start > 0 and first >= max(0, self.spec.min_start) and history[first].role == NOTE:
            if memory.index < 0:  # this builder's first prompt: read whole anyway
                cut = 0
            elif memory.index <= first and history[memory.index] is memory.message:
                cut = memory.cut if memory.index == first else 0
        pieces: list[_Piece] = []
        if cut >= 0:
            whole = self.layout.message(history[first], first=False)
            head, body, tail = whole[:1], whole[1:-1], whole[-1:]
            costs = [len(self._ids(p)) for p in body]
            room = self.budget - len(self.prefix_tokens) - self._cost(rendered) \
                - self._cost(head) - self._cost(tail)
            # What it holds may be placed anew too (the window lost the note): the newer copy
            # is read last; the older is the end of a note on its way out, in room no story
            # could use without reading the whole prompt again.
            kept = sum(costs[cut:])
            while cut < len(body) and (kept > room or not body[cut].text.strip()):
                kept -= costs[cut]
                cut += 1
            if cut < len(body):
                label = f"{history[first].label} (cut)"
                pieces = [*head, *(replace(p, label=label) for p in body[cut:]), *tail]
                self.trimmed.append(TrimDrop(f"{history[first].label}: its first "
                                             f"{sum(costs[:cut])} tokens",
                                             "older than the window holds"))
        if pieces:
            memory.index, memory.message, memory.cut = first, history[first], cut
        elif start < len(history):
            memory.index, memory.message, memory.cut = start, history[start], 0
        else:
            memory.index, memory.message, memory.cut = -1, None, 0
        return pieces

    def _assemble(self, pieces: list[_Piece]) -> tuple[list[int], list[Segment]]:
        tokens: list[int] = list(self.prefix_tokens)
        segments: list[Segment] = []
        if self.prefix_tokens:
            segments.append(Segment("bos", "start of text", "", len(self.prefix_tokens), 0))
        self.pending_start = -1
        for index, piece in enumerate(pieces):
            if index == self.pending_piece:
                self.pending_start = len(tokens)
            ids = self._ids(piece)
            if not ids and not piece.text:
                continue
            last = segments[-1] if segments else None
            if last and (last.kind, last.label) == (piece.kind, piece.label) and piece.by_line:
                # One segment for one part of a note tokenized line by line (Layout.note).
                segments[-1] = Segment(last.kind, last.label, last.text + piece.text,
                                       last.tokens + len(ids), last.start)
            else:
                segments.append(Segment(piece.kind, piece.label, piece.text, len(ids),
                                        len(tokens)))
            tokens.extend(ids)
        return tokens, segments

    def _report(self, pieces: list[_Piece], start: int) -> ContextReport:
        tokens, segments = self._assemble(pieces)
        # Last resort: cut the oldest kept text until the prompt fits. Never exceed the budget.
        if len(tokens) > self.budget:
            keep = len(self.prefix_tokens)
            excess = len(tokens) - self.budget
            tokens = tokens[:keep] + tokens[keep + excess :]
            self.trimmed.append(
                TrimDrop(f"{excess} tokens from the top", "newest text alone fills the window")
            )
            segments = _shift_segments(segments, keep, excess)
            self.pending_start = -1
        return ContextReport(
            tokens=tokens,
            text="".join(s.text for s in segments),
            segments=segments,
            fired=self.fired,
            dropped=list(self.scan.dropped),
            trimmed=self.trimmed,
            total_tokens=len(tokens),
            window=self.n_ctx,
            budget=self.budget,
            history_start=start,
            history_total=len(self.history),
            stop=self.layout.stops(self.spec.extra_stops),
            lore_next_state=self.scan.next_state,
            pending_start=self.pending_start if self.pending_start >= 0 else len(tokens),
            world_note=self.world_new,
        )


def _is_top(a: Activation) -> bool:
    """Whether a fired entry goes in the header. Only constant entries do: an entry fired by
    a keyword comes and goes, and every change in the header makes the next turn read the
    whole story again (an imported SillyTavern book, whose entries default to "before",
    once cost a full re-read every 1.8 turns). Keyword entries go to the late note, just
    before the newest action (docs/architecture.md, "The context builder")."""
    return a.entry.constant and a.entry.position in TOP_POSITIONS | {"auto"}


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


def _ends_not_counting_notes(seq: list[Message]) -> list[int]:
    """For each message, its place from the end (1: the last), world notes not counted (a
    note gets the place of the message it goes with)."""
    ends = [0] * len(seq)
    count = 0
    for pos in range(len(seq) - 1, -1, -1):
        if seq[pos].role != NOTE:
            count += 1
        ends[pos] = count
    return ends


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
