"""Two processes playing one save lost turns silently: the second is now refused, in one line
naming the holder, and a dead holder's lock is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tui.engine.campaign import Campaign, Turn
from tui.engine.saves import SaveError, load_save, release_save, write_save

REPO = Path(__file__).resolve().parents[1]

HOLDER = """
import sys, time
from pathlib import Path
from tui.engine.saves import load_save
c = load_save(Path(sys.argv[1]), lock=True)
print("holding", flush=True)
time.sleep(60)
"""


def start_holder(folder: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)],
                             env={**os.environ, "PYTHONPATH": str(REPO)},
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "holding"
    return child


def test_second_process_is_refused_naming_the_holder() -> None:
    c = Campaign(title="Shared")
    c.turns.append(Turn("do", "> One.", ["1"]))
    folder = write_save(c)
    release_save(c)
    holder = start_holder(folder)
    try:
        with pytest.raises(SaveError) as info:
            load_save(folder, lock=True)
        message = str(info.value)
        assert f"pid {holder.pid}" in message and "in use by another Grue" in message
        assert "\n" not in message
        c.turns.append(Turn("do", "> Two.", ["2"]))
        with pytest.raises(SaveError, match=f"pid {holder.pid}"):
            write_save(c)
        assert len(load_save(folder).turns) == 1  # reading is still fine, nothing written
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    write_save(c)  # the dead holder's lock is taken over
    assert len(load_save(folder).turns) == 2
    assert f"pid = {os.getpid()}" in (folder / "lock").read_text()


def test_resume_refuses_a_save_in_use(grue_home: Path) -> None:
    c = Campaign(title="Busy")
    c.turns.append(Turn("do", "> One.", ["1"]))
    folder = write_save(c)
    release_save(c)
    holder = start_holder(folder)
    try:
        run = subprocess.run([sys.executable, "-m", "tui.cli", "resume", c.id, "--plain"],
                             input="look\n", text=True, capture_output=True, timeout=120,
                             env={**os.environ, "PYTHONPATH": str(REPO),
                                  "GRUE_HOME": str(grue_home)})
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1 and f"pid {holder.pid}" in run.stderr
    assert "Traceback" not in run.stderr
    assert len(load_save(folder).turns) == 1


TWIN = """
import sys, time
from pathlib import Path
from tui.engine.campaign import Campaign, Turn
from tui.engine.saves import write_save
c = Campaign(title="Twin", created=float(sys.argv[2]))
c.turns.append(Turn("do", "> I am " + sys.argv[3], ["."]))
while time.time() < float(sys.argv[4]):
    pass
print(write_save(c, Path(sys.argv[1])).name, flush=True)
time.sleep(1)
"""


def test_two_processes_starting_the_same_title_in_the_same_second(tmp_path: Path) -> None:
    import time

    from tui.engine.saves import list_saves

    base = tmp_path / "saves"
    created = float(int(time.time()))
    start = time.time() + 1.5
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = [subprocess.Popen([sys.executable, "-c", TWIN, str(base), str(created + i / 10),
                                  name, str(start)], env=env, stdout=subprocess.PIPE, text=True)
                for i, name in enumerate(["one", "two"])]
    names = [child.communicate(timeout=60)[0].strip() for child in children]
    assert all(child.returncode == 0 for child in children)
    assert len(set(names)) == 2
    actions = sorted(load_save(s.path).turns[0].action for s in list_saves(base))
    assert actions == ["> I am one", "> I am two"]


def test_a_save_in_use_is_not_deleted() -> None:
    from tui.engine.saves import delete_save

    c = Campaign(title="Busy Elsewhere")
    folder = write_save(c)
    release_save(c)
    holder = start_holder(folder)
    try:
        with pytest.raises(SaveError, match=f"pid {holder.pid}"):
            delete_save(folder)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (folder / "campaign.toml").exists()
