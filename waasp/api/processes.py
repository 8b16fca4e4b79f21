"""``waasp serve --processes N``: N API processes answering on one port.

The parent binds the address without listening (so a port in use fails in one line before
anything starts, port 0 becomes one port for all, and the port stays held), then starts N
children, each ``waasp serve`` on that port with SO_REUSEPORT: the kernel spreads new
connections over their listeners. Each child has its own event loop, asyncpg pool and
runtime client; the parent serves nothing, it supervises:

- SIGINT, SIGTERM or SIGHUP to the parent is passed on as SIGTERM to every child, which
  drains like a single ``waasp serve``; a child still running after ``STOP_GRACE`` is killed.
- A child that exits on its own (a crash, an OOM kill) is reported, the others are stopped
  and the parent exits 1: the service manager (systemd, Docker, Kubernetes) restarts the
  whole, and a crash loop stays visible rather than being hidden by restarts in place.
- A child whose parent is gone (killed with SIGKILL) stops by itself (``watch_parent``).
- Metrics: every child counts into prometheus-client's multiprocess directory
  (``PROMETHEUS_MULTIPROC_DIR``; a private temporary one unless it is set, emptied of its
  ``*.db`` files at start), so /metrics from any child reports the sums over all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import structlog
from prometheus_client import multiprocess

from waasp.api.metrics import MULTIPROC_ENV
from waasp.api.server import SHUTDOWN_TIMEOUT

log = structlog.get_logger(__name__)

# A child prints this and its URL on stdout once it listens.
READY = "listening "
STOP_GRACE = SHUTDOWN_TIMEOUT + 10.0
PARENT_POLL = 1.0
# How long a child's exit may come before the signal that stops us all (see ``supervise``).
SIGNAL_GRACE = 1.0


class Children:
    """The API processes of one ``waasp serve --processes N``."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str], count: int) -> None:
        self.command = list(command)
        self.env = dict(env)
        self.count = count
        self.procs: list[asyncio.subprocess.Process] = []
        self._drains: list[asyncio.Task[None]] = []

    async def start(self) -> str:
        """Start every child and wait until each listens; return the URL the first reports.

        Raises ChildExited when one exits first."""
        for _ in range(self.count):
            self.procs.append(
                await asyncio.create_subprocess_exec(
                    *self.command, env=self.env, stdout=asyncio.subprocess.PIPE
                )
            )
        answers = await asyncio.gather(
            *(self._ready(proc) for proc in self.procs), return_exceptions=True
        )
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        for proc in self.procs:
            assert proc.stdout is not None
            # Nothing more is expected there; keep reading so a child can never block on it.
            self._drains.append(asyncio.create_task(_drain(proc.stdout)))
        return str(answers[0])

    async def _ready(self, proc: asyncio.subprocess.Process) -> str:
        assert proc.stdout is not None
        while line := (await proc.stdout.readline()).decode():
            if line.startswith(READY):
                return line.removeprefix(READY).strip()
            sys.stdout.write(line)
        raise ChildExited(proc.pid, await proc.wait())

    async def first_exit(self) -> None:
        """Wait until a child exits; raise ChildExited for it."""
        waits = {asyncio.create_task(proc.wait()): proc for proc in self.procs}
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        proc = waits[done.pop()]
        raise ChildExited(proc.pid, proc.returncode if proc.returncode is not None else -1)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM every child still running; SIGKILL those left after ``grace`` seconds."""
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        waits = [asyncio.create_task(proc.wait()) for proc in self.procs]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=grace)
            for proc in self.procs:
                if proc.returncode is None:
                    log.warning("api_process_killed", pid=proc.pid, after_seconds=grace)
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            if pending:
                await asyncio.wait(pending)
        for drain in self._drains:
            drain.cancel()


class ChildExited(Exception):
    """An API process exited while it should have been serving."""

    def __init__(self, pid: int, status: int) -> None:
        super().__init__(f"API process {pid} exited with status {status}")
        self.pid = pid
        self.status = status


async def supervise(
    command: Sequence[str],
    env: Mapping[str, str],
    count: int,
    stop: asyncio.Event,
    on_listening: Callable[[str], None],
) -> int:
    """Run ``count`` children (``command`` each, in ``env``) until ``stop`` is set or one
    exits; stop them all and return the exit status (0, or 1 when a child died).
    ``on_listening`` gets the URL once every child listens."""
    with metrics_directory(env) as directory:
        children = Children(command, {**env, MULTIPROC_ENV: directory}, count)
        stopped = asyncio.create_task(stop.wait())
        try:
            starting = asyncio.create_task(children.start())
            await asyncio.wait([starting, stopped], return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError, ChildExited):
                    await starting
                return 0
            on_listening(starting.result())
            exited = asyncio.create_task(children.first_exit())
            await asyncio.wait([exited, stopped], return_when=asyncio.FIRST_COMPLETED)
            if not exited.done():
                exited.cancel()
                return 0
            exited.result()  # raises ChildExited
            return 1  # not reached: first_exit only ends by raising
        except ChildExited as exc:
            # Ctrl-C signals the whole process group: a child may stop before we hear of it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SIGNAL_GRACE)
                return 0
            log.error("api_process_exited", pid=exc.pid, status=exc.status, stopping="all")
            return 1
        finally:
            stopped.cancel()
            await children.stop()
            for proc in children.procs:
                multiprocess.mark_process_dead(proc.pid, directory)  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def metrics_directory(env: Mapping[str, str]) -> Iterator[str]:
    """The multiprocess directory: ``PROMETHEUS_MULTIPROC_DIR`` emptied of old ``*.db``
    files (counts of a previous run would be added in), or a temporary one removed after."""
    given = env.get(MULTIPROC_ENV)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        for old in Path(given).glob("*.db"):
            old.unlink()
        yield given
        return
    made = tempfile.mkdtemp(prefix="waasp-metrics-")
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


async def watch_parent(stop: asyncio.Event, parent: int) -> None:
    """Set ``stop`` when the process that started this one is gone (it was SIGKILLed and
    could not stop its children): an orphan would otherwise hold the port forever."""
    while not stop.is_set():
        if os.getppid() != parent:
            log.warning("api_parent_gone", parent=parent)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PARENT_POLL)


async def _drain(stream: asyncio.StreamReader) -> None:
    while line := await stream.readline():
        sys.stdout.write(line.decode())
