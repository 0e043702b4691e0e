"""Keeps `grue serve`'s shared model process running: started with the server, started
again when it dies (with a growing pause if it keeps dying), stopped at shutdown.

A process of its own, so a crash in llama.cpp takes down neither the SSH server nor any
game: the games' next request fails with one line and reconnects once it is back
(docs/architecture.md, "grue serve").
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tui.backends.shared_protocol import MAX_MESSAGE, ProtocolError, decode, encode
from tui.serve.files import EventLog

FIRST_PAUSE = 0.5  # seconds before a restart; doubled per quick death, up to MAX_PAUSE
MAX_PAUSE = 30.0
STEADY = 60.0  # a process that lived this long resets the pause
STOP_GRACE = 10.0
STATS_WAIT = 2.0  # seconds a stats request may take (the model thread does not answer it)


def model_command(socket: Path, model_args: Sequence[str], log: Path) -> list[str]:
    return [sys.executable, "-m", "tui.serve.model_proc", "--socket", str(socket),
            "--log", str(log), "--watch-stdin", *model_args]


class ModelSupervisor:
    def __init__(self, socket: Path, model_args: Sequence[str], log_file: Path,
                 log: EventLog) -> None:
        self.socket = socket
        self.argv = model_command(socket, model_args, log_file)
        self.log_file = log_file
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._keep_running())

    async def _keep_running(self) -> None:
        pause = FIRST_PAUSE
        while not self._stopping:
            began = time.monotonic()
            code = await self._run_once()
            if self._stopping:
                return
            pause = FIRST_PAUSE if time.monotonic() - began > STEADY else pause
            self.restarts += 1
            self.log(f"the shared model process ended (status {code}); restarting in "
                     f"{pause:g}s (its log: {self.log_file})")
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)

    async def _run_once(self) -> int:
        with self.log_file.open("ab") as out:
            # stdin is a pipe that only we hold: the model process ends when we do, even
            # when we are killed outright. A session of its own keeps the terminal's Ctrl+C
            # away from it: the server stops it after the games have saved.
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=subprocess.PIPE, stdout=out, stderr=out,
                start_new_session=True, close_fds=True)
        self.log(f"shared model process started, pid {self.proc.pid}")
        return await self.proc.wait()

    async def stats(self) -> dict[str, Any] | None:
        """The model process's `stats` reply (its queue, tokens read), or None if it is not
        up or does not answer in time. Asked on a connection of its own, answered by that
        connection's thread, so a long generation does not hold it up."""
        try:
            return await asyncio.wait_for(self._ask_stats(), STATS_WAIT)
        except (OSError, TimeoutError, ProtocolError, ValueError, asyncio.IncompleteReadError):
            return None

    async def _ask_stats(self) -> dict[str, Any]:
        reader, writer = await asyncio.open_unix_connection(str(self.socket))
        try:
            writer.write(encode({"op": "stats", "id": 1}))
            await writer.drain()
            size = int.from_bytes(await reader.readexactly(4), "big")
            if size > MAX_MESSAGE:
                raise ProtocolError(f"a stats reply of {size} bytes")
            return decode(await reader.readexactly(size))
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def stop(self) -> None:
        self._stopping = True
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._task is not None:
            self._task.cancel()  # it may be pausing before a restart
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
