"""What every embedded server does: start or adopt, wait until it answers, stop."""

from __future__ import annotations

import abc
import signal
import subprocess
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

import structlog

from waasp.embedded._process import (
    LOCALHOST,
    StopSteps,
    cmdline_mentions,
    locked,
    log_tail,
    pid_alive,
    read_int,
    remembered_port,
    spawn,
    stop_process,
    wait_until,
)
from waasp.embedded.errors import EmbeddedServerError

_log = structlog.get_logger(__name__)

KILL_STEPS: StopSteps = ((signal.SIGKILL, 10.0),)


class EmbeddedServer(abc.ABC):
    """One server process whose data, log, port and pid live under a directory of its own.

    ``start()`` adopts a server a previous run left alive for the same directory, or
    launches one; either way it returns only once the server answers. ``stop()`` ends it,
    whichever process started it.
    """

    name: ClassVar[str]
    # Words one of which a live server's command line holds; guards against pid reuse.
    process_words: ClassVar[tuple[str, ...]]
    stop_steps: ClassVar[StopSteps]

    def __init__(self, directory: Path, *, start_timeout: float) -> None:
        self.directory = directory
        self.start_timeout = start_timeout
        self.reused = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._port: int | None = None

    # --- what each server defines -------------------------------------------------------

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """The URL clients connect to (only valid once started)."""

    @abc.abstractmethod
    def _recorded(self) -> tuple[int, int | None] | None:
        """Return (pid, port) a server wrote down for this directory, if any."""

    @abc.abstractmethod
    def _answers(self, port: int) -> bool:
        """Tell whether the server on port is ready for clients."""

    @abc.abstractmethod
    def _prepare(self) -> None:
        """Make the directory ready for a launch (initdb, config, stale files)."""

    @abc.abstractmethod
    def _argv(self, port: int) -> list[str]:
        """The command line that runs the server in the foreground on port."""

    @abc.abstractmethod
    def _program(self) -> Path:
        """The server program itself (for logs and errors)."""

    # --- shared behaviour --------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        """Where the server's own output goes."""
        return self.directory / "server.log"

    @property
    def _port_path(self) -> Path:
        return self.directory / "waasp.port"

    @property
    def _lock_path(self) -> Path:
        return self.directory.parent / f".{self.directory.name}.lock"

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1 the server listens on."""
        if self._port is None:
            raise EmbeddedServerError(f"embedded {self.name} is not started")
        return self._port

    @property
    def pid(self) -> int | None:
        """The server's process id while this handle knows it to run."""
        return self._pid

    @property
    def running(self) -> bool:
        """Tell whether the server this handle started or adopted still runs."""
        if self._pid is None:
            return False
        if self._proc is not None and self._proc.poll() is not None:
            return False
        # Also when we launched it: a multi-threaded server whose main thread has exited is a
        # zombie that waitpid cannot reap until its other threads are gone, and poll() still
        # says it runs (stopped through another handle, it is already gone for pid_alive).
        return pid_alive(self._pid)

    def start(self) -> str:
        """Adopt the live server of this directory, or launch one; return its URL."""
        # Only the owner may read what the servers keep (and the data dir's other secrets).
        self.directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with locked(self._lock_path):
            if self.running:
                return self.url
            recorded = self._recorded()
            if recorded and self._is_live_server(recorded[0]):
                self._adopt(*recorded)
            else:
                self._launch()
        return self.url

    def stop(self) -> None:
        """Stop the server gracefully, escalating to SIGKILL; a no-op when not running."""
        self._end(self.stop_steps)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would (for fault tests)."""
        self._end(KILL_STEPS)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _is_live_server(self, pid: int) -> bool:
        return pid_alive(pid) and cmdline_mentions(pid, self.process_words)

    def _adopt(self, pid: int, port: int | None) -> None:
        if port is None or not wait_until(
            lambda: self._answers(port), timeout=self.start_timeout, alive=lambda: pid_alive(pid)
        ):
            raise EmbeddedServerError(
                f"embedded {self.name}: process {pid} from an earlier run holds {self.directory} "
                f"but does not answer on {LOCALHOST}:{port}; stop it (kill {pid}) and try again. "
                f"Last lines of {self.log_path}:\n{log_tail(self.log_path)}"
            )
        self._proc, self._pid, self._port, self.reused = None, pid, port, True
        _log.info(
            "embedded_server_reused",
            server=self.name,
            pid=pid,
            port=port,
            directory=str(self.directory),
        )

    def _launch(self) -> None:
        self._prepare()
        previous = read_int(self._port_path)
        port = remembered_port(self._port_path)
        if previous is not None and previous != port:
            _log.warning(
                "embedded_port_changed",
                server=self.name,
                previous=previous,
                port=port,
                reason="the remembered port is taken by another program",
            )
        argv = self._argv(port)
        proc = spawn(self.name, argv, self.log_path, cwd=self.directory)

        def alive() -> bool:
            return proc.poll() is None

        if not wait_until(lambda: self._answers(port), timeout=self.start_timeout, alive=alive):
            code = proc.poll()
            if code is None:
                stop_process(proc.pid, proc, self.stop_steps)
                reason = f"did not answer on {LOCALHOST}:{port} within {self.start_timeout:g} s"
            else:
                reason = f"exited with code {code} while starting"
            raise EmbeddedServerError(
                f"embedded {self.name} ({self._program()}) {reason}. "
                f"Last lines of {self.log_path}:\n{log_tail(self.log_path)}"
            )
        self._proc, self._pid, self._port, self.reused = proc, proc.pid, port, False
        _log.info(
            "embedded_server_started",
            server=self.name,
            pid=proc.pid,
            port=port,
            directory=str(self.directory),
            program=str(self._program()),
        )

    def _end(self, steps: StopSteps) -> None:
        if self._pid is None:
            return
        pid, proc = self._pid, self._proc
        ended_by = stop_process(pid, proc, steps)
        self._proc = self._pid = None
        _log.info(
            "embedded_server_stopped",
            server=self.name,
            pid=pid,
            signal=ended_by.name if ended_by else None,
            directory=str(self.directory),
        )
