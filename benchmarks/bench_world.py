"""World state on and off: does the state in the prompt keep the narration consistent, and
what do its updates cost? (issue 12; docs/architecture.md, "World state")

Run: python benchmarks/bench_world.py [--turns 40] [--seed 7] [--turn-seeds 0] [--reply-tokens 60]
                                      [--threads 1] [--verbose] [--save JSON] [--after-story]
     python benchmarks/bench_world.py --recheck JSON  (the checker again on a run's text)

A scripted 40-turn adventure on SmolLM2 from the bundled scenario lantern-road (its starting
[world]: the cottage, three known exits, the quest to find Warden Ilse), `n_ctx` 2048, a
fixed seed, played twice in the same run, turn by turn side by side (one model each, so both
see the same machine load):

- state OFF: the campaign's world state is empty (so the prompt has no world segment:
  `segment_text` of an empty state is "") and `Settings.world_updates` is off (no updates);
- state ON: the scenario's state in the prompt's late note (`PromptSpec.world`), and after
  each narration, in the pause, what the TUI does: `world_request`, `propose` (the model,
  grammar-constrained JSON), `settle`; then the player's own corrections for what their
  action did (took the lantern, went to the tower, saw Bram fall dead), applied as the
  typed changes the `/inv add`, `/inv drop` and `/move` commands make, through the same
  `history.record` (no command sets a place's exits, meets a person or marks one dead: the
  script records those changes directly, as a scenario's [world] sets the start).

The script knows the truth at every turn (items carried, the dead, the known exits);
`world_checker.check` counts where a narration contradicts it. Both modes play the same
actions with the same per-turn seed (the turn's number, as in bench_turns.py, plus
`--turn-seeds`: another value plays other narrations, for a count over several games;
`--seed` seeds the models and the campaign, and a run with --seed 8 wrote the same text as
one with 7); the
player's pause reads the next prompt ahead (both
modes), and in ON also runs the update, then reads ahead again if the state changed (the
TUI's order). Targets (issue 12): fewer contradictions with the state on, at <= 15 % more
model time per turn (narration + the pause's work).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from proc_info import load_average  # noqa: E402
from world_checker import KINDS, Contradiction, Truth, check, count  # noqa: E402

from tui.backends.local import LocalBackend, route_llama_log  # noqa: E402
from tui.core.backend import NoJsonSchema  # noqa: E402
from tui.core.sampler import Sampler  # noqa: E402
from tui.engine.actions import Mode  # noqa: E402
from tui.engine.campaign import Campaign, campaign_from_scenario  # noqa: E402
from tui.engine.context import ContextBuilder  # noqa: E402
from tui.engine.game import Game, generate, make_builder, read_ahead  # noqa: E402
from tui.engine.scenario import load_scenario  # noqa: E402
from tui.engine.world import (  # noqa: E402
    AddItem,
    Change,
    DropItem,
    Meet,
    Move,
    UpdatePerson,
    WorldState,
    apply,
)
from tui.engine.world.history import record  # noqa: E402
from tui.engine.world.propose import propose, settle, world_request  # noqa: E402
from tui.models.embedded import embedded_model_path  # noqa: E402

N_CTX = 2048
SCENARIO = ROOT / "scenarios" / "lantern-road.toml"
# The words that name an item or a person in a narration (world_checker.Truth).
ITEM_WORDS = {"brass lantern": ("lantern", "lamp"), "Ilse's letter": ("letter",),
              "map of the lamp posts": ("map",), "tower key": ("key",)}
# The script's Story lines call Bram "an old hermit", and the narrator mostly does too.
PERSON_NAMES = {"Bram": ("Bram", "hermit"), "Warden Ilse": ("Ilse", "Warden")}
GARDEN = ("the cottage by the Lantern Road",
          ("the Lantern Road", "the Thornwood", "the cottage door"))
COTTAGE = ("inside the cottage", ("the cottage door",))  # the cellar door is bolted
EDGE = ("the Thornwood edge", ("the Lantern Road", "the old road"))
OLD_ROAD = ("the old road", ("the Thornwood edge", "the Warden's tower"))
TOWER = ("the Warden's tower", ("the old road", "the tower door"))
HALL = ("inside the Warden's tower", ("the tower door", "the stair"))
LAMP_ROOM = ("the lamp room", ("the stair",))


def go(place: tuple[str, tuple[str, ...]]) -> Move:
    return Move(place[0], exits=place[1])


@dataclass(frozen=True)
class Step:
    mode: Mode
    text: str
    changes: tuple[Change, ...] = ()  # what the action itself does to the world


SCRIPT: list[Step] = [
    Step(Mode.DO, "look around the garden"),
    Step(Mode.DO, "take the brass lantern from its hook", (AddItem("brass lantern"),)),
    Step(Mode.DO, "light the brass lantern with your tinderbox"),
    Step(Mode.DO, "open the mailbox and take the letter", (AddItem("Ilse's letter"),)),
    Step(Mode.DO, "read the letter by the light of the lantern"),
    Step(Mode.DO, "go through the cottage door", (go(COTTAGE),)),
    Step(Mode.DO, "take the half-written map from the table",
         (AddItem("map of the lamp posts"),)),
    Step(Mode.DO, "try the cellar door, but it is bolted fast"),
    Step(Mode.SAY, "Is anyone down there?"),
    Step(Mode.DO, "leave through the cottage door", (go(GARDEN),)),
    Step(Mode.DO, "follow the Lantern Road to the edge of the Thornwood", (go(EDGE),)),
    Step(Mode.STORY, "An old hermit named Bram waits by a dark lamp post, leaning on a stick.",
         (Meet("Bram"),)),
    Step(Mode.SAY, "Bram, have you seen Warden Ilse?"),
    Step(Mode.DO, "raise the lantern so Bram can see your face"),
    Step(Mode.STORY, "A grue strikes from the dark beyond the light. Bram falls dead at your "
                     "feet.", (UpdatePerson("Bram", alive=False),)),
    Step(Mode.DO, "kneel beside Bram"),
    Step(Mode.SAY, "Bram, what did you see?"),
    Step(Mode.DO, "raise the lantern high and look around"),
    Step(Mode.DO, "walk along the old road into the Thornwood", (go(OLD_ROAD),)),
    Step(Mode.DO, "check the oil in the lantern"),
    Step(Mode.DO, "follow the dark lamp posts, holding the lantern before you"),
    Step(Mode.DO, "go to the Warden's tower", (go(TOWER),)),
    Step(Mode.STORY, "Warden Ilse stands in the tower doorway, a silver pole in her hand.",
         (Meet("Warden Ilse"),)),
    Step(Mode.SAY, "Warden, I found your letter."),
    Step(Mode.DO, "give Ilse the map of the lamp posts", (DropItem("map of the lamp posts"),)),
    Step(Mode.STORY, "The grues pour out of the dark. Warden Ilse falls dead on the tower "
                     "steps.", (UpdatePerson("Warden Ilse", alive=False),)),
    Step(Mode.DO, "kneel beside Ilse"),
    Step(Mode.SAY, "Ilse, can you hear me?"),
    Step(Mode.DO, "hold the lantern over Ilse's face"),
    Step(Mode.DO, "search Ilse and take her tower key", (AddItem("tower key"),)),
    Step(Mode.DO, "unlock the tower door with the key and go inside", (go(HALL),)),
    Step(Mode.DO, "look for another way out"),
    Step(Mode.DO, "climb the stair with the lantern raised", (go(LAMP_ROOM),)),
    Step(Mode.DO, "light the great lamp with the lantern's flame"),
    Step(Mode.SAY, "Ilse, the road is lit again."),
    Step(Mode.DO, "look out over the Thornwood"),
    Step(Mode.DO, "check what you carry"),
    Step(Mode.DO, "go back down the stair", (go(HALL),)),
    Step(Mode.DO, "step out through the tower door", (go(TOWER),)),
    Step(Mode.DO, "walk home along the lit road, the lantern in your hand"),
]


def truth_of(state: WorldState) -> Truth:
    """What the checker needs of the script's true state."""
    return Truth(items={i: ITEM_WORDS.get(i, (i.split()[-1],)) for i in state.items},
                 dead={p.name: PERSON_NAMES.get(p.name, (p.name,))
                       for p in state.people if not p.alive},
                 exits=tuple(state.exits))


@dataclass
class TurnStats:
    enter: float  # Enter to the end of the narration
    idle: float  # the pause's model work: reading ahead, the update, reading ahead again
    update: float  # of which the update (propose + settle)
    update_read: int
    update_out: int
    prompt_read: int  # tokens read after Enter
    found: list[Contradiction]
    narration: str
    ahead: float = 0.0  # of the pause: reading ahead after the narration
    ahead_read: int = 0
    again: float = 0.0  # reading ahead again after the state changed
    again_read: int = 0

    @property
    def total(self) -> float:
        return self.enter + self.idle


@dataclass
class Run:
    """One mode's game: its own model, campaign and figures."""

    name: str
    world: bool
    backend: LocalBackend
    game: Game
    builder: ContextBuilder
    turns: list[TurnStats] = field(default_factory=list)
    truths: list[Truth] = field(default_factory=list)
    applied: int = 0  # the model's changes recorded
    refused: int = 0  # the model's changes that did not fit the state
    corrections: int = 0  # the player's scripted changes recorded (the model had not)
    shown: list[str] = field(default_factory=list)
    paused: str = ""  # why the updates stopped (NoJsonSchema), if they did


def new_run(name: str, world: bool, args: argparse.Namespace) -> Run:
    backend = LocalBackend(embedded_model_path(), n_ctx=N_CTX, seed=args.seed,
                           n_threads=args.threads)
    backend.load()
    campaign: Campaign = campaign_from_scenario(load_scenario(SCENARIO))
    campaign.settings.max_new_tokens = args.reply_tokens
    campaign.settings.seed = args.seed
    campaign.settings.world_updates = world
    if not world:
        campaign.world = WorldState()
    game = Game(campaign, autosave=False)
    if world and args.after_story:
        # Plays a model whose story cache is too large to copy aside (a 13B model's): the
        # update is asked after the story's prompt (docs/architecture.md, "World state").
        backend.can_keep_cache = lambda: False  # type: ignore[method-assign]
    return Run(name, world, backend, game, make_builder(backend, campaign))


def narrate(run: Run, step: Step, sampler: Sampler) -> tuple[float, int, str]:
    """Enter: (seconds to the end of the narration, tokens read after Enter, the text)."""
    request = run.game.request_action(step.mode, step.text)
    started = time.perf_counter()
    result = generate(run.backend, run.builder, request, sampler, threading.Event(),
                      lambda _text: None)
    seconds = time.perf_counter() - started
    read = run.backend.last_prefill.read
    turn = run.game.commit(request, result)
    return seconds, read, turn.response if turn is not None else ""


def update(run: Run, step: Step) -> tuple[float, int, int, bool]:
    """The model's update and the player's corrections: (seconds of the model's update,
    tokens it read, tokens it wrote, whether the state changed)."""
    campaign = run.game.campaign
    request = world_request(campaign, run.game.read_ahead_spec(""))  # as the TUI asks
    seconds, read, out, changed = 0.0, 0, 0, False
    if request is not None and not run.paused:  # paused: the TUI says so once, asks no more
        started = time.perf_counter()
        try:
            text = propose(run.backend, run.builder, request, threading.Event())
        except NoJsonSchema as exc:
            run.paused = f"at turn {len(run.turns) + 1}: {exc}"
        else:
            outcome = settle(campaign, request, text)
            read = run.backend.last_prefill.read
            out = len(run.backend.tokenize(text, special=False))
            run.applied += len(outcome.applied)
            run.refused += len(outcome.refused)
            changed = bool(outcome.applied)
            if outcome.applied:
                run.shown.append(outcome.line)
        seconds = time.perf_counter() - started
    done, _not_needed = record(campaign, list(step.changes))  # /inv add, /move, ...
    run.corrections += len(done)
    return seconds, read, out, changed or bool(done)


def play_turn(run: Run, seed: int, step: Step, truth: Truth, sampler: Sampler) -> TurnStats:
    enter, prompt_read, narration = narrate(run, step, sampler.with_changes(seed=seed))
    found = check(narration, truth)
    cancel = threading.Event()
    started = time.perf_counter()
    ahead_read = read_ahead(run.backend, run.builder, run.game.read_ahead_spec(""), cancel)
    ahead = time.perf_counter() - started
    update_s, update_read, update_out = 0.0, 0, 0
    again, again_read = 0.0, 0
    if run.world:
        update_s, update_read, update_out, changed = update(run, step)
        if changed:  # the state's lines in the prompt changed: read ahead again
            again_started = time.perf_counter()
            again_read = read_ahead(run.backend, run.builder, run.game.read_ahead_spec(""),
                                    cancel)
            again = time.perf_counter() - again_started
    idle = time.perf_counter() - started
    return TurnStats(enter, idle, update_s, update_read, update_out, prompt_read, found,
                     narration, ahead, ahead_read, again, again_read)


def play(args: argparse.Namespace) -> tuple[Run, Run]:
    off, on = new_run("state off", False, args), new_run("state on", True, args)
    truth_state = campaign_from_scenario(load_scenario(SCENARIO)).world.copy()
    sampler = Sampler(temperature=0.8, top_k=40, top_p=0.95, repetition_penalty=1.1,
                      seed=args.seed, max_tokens=args.reply_tokens)
    for number, step in enumerate(SCRIPT[: args.turns], start=1):
        for change in step.changes:
            apply(truth_state, change)
        truth = truth_of(truth_state)
        for run in (off, on):
            stats = play_turn(run, args.turn_seeds + number, step, truth, sampler)
            run.turns.append(stats)
            run.truths.append(truth)
            if args.verbose:
                narration = run.game.campaign.turns[-1].response.replace("\n", " ")
                print(f"  [{run.name} {number}] {narration[:300]}", flush=True)
            for c in stats.found:
                print(f"  turn {number}, {run.name}: {c.kind} ({c.subject}): "
                      f"{c.sentence[:160]!r}", flush=True)
        if number % 10 == 0:
            print(f"  ... turn {number}: off {off.turns[-1].total:.1f} s, "
                  f"on {on.turns[-1].total:.1f} s", flush=True)
    for run in (off, on):
        run.backend.close()
    return off, on


def save(path: Path, runs: tuple[Run, Run]) -> None:
    """Every narration with the truth it was checked against, to read or check again."""
    data = {run.name: [{"turn": n, "narration": t.narration, "truth": asdict(truth),
                        "found": [asdict(c) for c in t.found]}
                       for n, (t, truth) in enumerate(zip(run.turns, run.truths, strict=True),
                                                          start=1)]
            for run in runs}
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def recheck(path: Path) -> None:
    """Check the narrations saved by a run again, with this checker and these names (the
    narrations do not depend on the checker: the same as a run with the same seed)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    totals: dict[str, int] = {}
    for name, turns in data.items():
        found: list[Contradiction] = []
        for turn in turns:
            t = turn["truth"]
            truth = Truth(items={i: ITEM_WORDS.get(i, tuple(w)) for i, w in t["items"].items()},
                          dead={p: PERSON_NAMES.get(p, tuple(n)) for p, n in t["dead"].items()},
                          exits=tuple(t["exits"]))
            for c in check(turn["narration"], truth):
                print(f"  turn {turn['turn']}, {name}: {c.kind} ({c.subject}): "
                      f"{c.sentence[:160]!r}")
                found.append(c)
        kinds = count(found)
        totals[name] = len(found)
        print(f"{name}: {len(found)} contradictions "
              f"({' / '.join(f'{kinds[k]} {k}' for k in KINDS)})")
    print(f"fewer contradictions with the state on: "
          f"{'yes' if totals.get('state on', 0) < totals.get('state off', 0) else 'NO'}")


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def report(off: Run, on: Run) -> None:
    print("\n| mode | contradictions (item / dead / exit) | per turn incl. the pause's work: "
          "median / mean s | Enter to end of narration: median / mean s | update: median s "
          "| update tokens read / in the answer (mean per turn) | tokens read after Enter (mean) |")
    for run in (off, on):
        found = [c for t in run.turns for c in t.found]
        kinds = count(found)
        print(f"| {run.name} | {len(found)} ({' / '.join(str(kinds[k]) for k in KINDS)}) | "
              f"{statistics.median(t.total for t in run.turns):.2f} / "
              f"{mean([t.total for t in run.turns]):.2f} | "
              f"{statistics.median(t.enter for t in run.turns):.2f} / "
              f"{mean([t.enter for t in run.turns]):.2f} | "
              f"{statistics.median(t.update for t in run.turns):.2f} | "
              f"{mean([t.update_read for t in run.turns]):.0f} / "
              f"{mean([t.update_out for t in run.turns]):.0f} | "
              f"{mean([t.prompt_read for t in run.turns]):.0f} |")
    print("\n| mode | the pause, mean s per turn: reading ahead (tokens) | the update | "
          "reading ahead again (tokens) | the rest |")
    for run in (off, on):
        turns = run.turns
        rest = mean([t.idle - t.ahead - t.update - t.again for t in turns])
        print(f"| {run.name} | {mean([t.ahead for t in turns]):.2f} "
              f"({mean([t.ahead_read for t in turns]):.0f}) | "
              f"{mean([t.update for t in turns]):.2f} | {mean([t.again for t in turns]):.2f} "
              f"({mean([t.again_read for t in turns]):.0f}) | {rest:.2f} |")
    print(f"\nthe model's updates (state on): {on.applied} changes recorded, {on.refused} "
          f"refused (did not fit the state); the player's scripted changes recorded: "
          f"{on.corrections}")
    print("the state at the end (on): " + "; ".join(_state_line(on)))
    if on.paused:
        print(f"the updates stopped: {on.paused}")
    n_off = sum(len(t.found) for t in off.turns)
    n_on = sum(len(t.found) for t in on.turns)
    ratio = mean([t.total for t in on.turns]) / mean([t.total for t in off.turns])
    enter_ratio = mean([t.enter for t in on.turns]) / mean([t.enter for t in off.turns])
    print(f"mean time per turn incl. the pause's work, on / off: {ratio:.2f}x; Enter to the "
          f"end of the narration, on / off: {enter_ratio:.2f}x")
    print(f"fewer contradictions with the state on: {'yes' if n_on < n_off else 'NO'} "
          f"({n_on} vs {n_off})")
    print(f"<= 15 % more time per turn: {'yes' if ratio <= 1.15 else 'NO'} ({ratio:.2f}x)")


def _state_line(run: Run) -> list[str]:
    from tui.engine.world.prompt import segment_lines

    return segment_lines(run.game.campaign.world_state())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=len(SCRIPT))
    parser.add_argument("--seed", type=int, default=7,
                        help="the models' and the campaign's seed (each narration's sampling "
                             "seed is its turn's number)")
    parser.add_argument("--turn-seeds", type=int, default=0,
                        help="added to each narration's seed: other narrations, same script")
    parser.add_argument("--reply-tokens", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="print every narration")
    parser.add_argument("--after-story", action="store_true",
                        help="state on asks its updates after the story's prompt, as for a "
                             "model whose cache is too large to copy aside")
    parser.add_argument("--save", type=Path, default=Path("/tmp/grue-bench-world.json"),
                        help="where to write every narration and its truth (JSON)")
    parser.add_argument("--recheck", type=Path, default=None, metavar="JSON",
                        help="only check the narrations a run saved again (no model)")
    args = parser.parse_args()
    if args.recheck is not None:
        recheck(args.recheck)
        return
    route_llama_log(Path("/tmp/grue-bench-world-llama.log"))
    load = load_average()
    print(f"bench_world: {min(args.turns, len(SCRIPT))} turns of {SCENARIO.name}, n_ctx "
          f"{N_CTX}, replies <= {args.reply_tokens} tokens, seed {args.seed}, turn seeds "
          f"+{args.turn_seeds}, threads "
          f"{args.threads}, updates {'after the story' if args.after_story else 'apart'}, "
          f"load average {load}, {time.strftime('%Y-%m-%d')}")
    off, on = play(args)
    save(args.save, (off, on))
    report(off, on)
    print(f"narrations and truths: {args.save}")
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
