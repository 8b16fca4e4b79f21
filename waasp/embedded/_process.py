"""Process plumbing shared by the embedded servers: ports, locks, spawning, waiting, stopping."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from waasp.embedded.errors import EmbeddedServerError

LOCALHOST = "127.0.0.1"
POLL_INTERVAL = 0.05
LOG_TAIL_LINES = 25

# (signal, seconds to wait for the process to go away after sending it)
StopSteps = Sequence[tuple[signal.Signals, float]]


def port_is_free(port: int) -> bool:
    """Tell whether a server could bind 127.0.0.1:port now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The servers set SO_REUSEADDR too, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOCALHOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """Return a port on 127.0.0.1 that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
    return port


def read_int(path: Path) -> int | None:
    """Return the integer on the first line of path, or None if absent or garbled."""
    try:
        return int(path.read_text().split("\n", 1)[0].strip())
    except (OSError, ValueError):
        return None


def remembered_port(path: Path) -> int:
    """Return the port stored at path if it is still free, else store and return a new one.

    Keeping the port across restarts keeps the URLs a user copied working.
    """
    port = read_int(path)
    if port is not None and 0 < port < 65536 and port_is_free(port):
        return port
    port = free_port()
    path.write_text(f"{port}\n")
    return port


def accepts_tcp(port: int, timeout: float = 0.5) -> bool:
    """Tell whether something accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection((LOCALHOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """Tell whether pid is a running process (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] not in {"Z", "X"}


def cmdline_mentions(pid: int, words: Sequence[str]) -> bool:
    """Tell whether pid's command line contains one of words (True where /proc is absent).

    Guards against a stale pid file whose pid now belongs to an unrelated process.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return True
    return any(word in cmdline for word in words)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on path, so two processes never start one data dir twice."""
    with path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last lines of a log file, or a note that there is none."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join(tail) if tail else f"(empty log at {path})"


def spawn(name: str, argv: Sequence[str], log_path: Path, *, cwd: Path) -> subprocess.Popen[bytes]:
    """Start a server with its output appended to log_path, in a session of its own.

    Its own session keeps a Ctrl-C in the terminal away from it: the caller decides when it
    stops, after its own work that needs the server has drained.
    """
    try:
        with log_path.open("ab") as log_file:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,
            )
    except OSError as exc:
        raise EmbeddedServerError(f"embedded {name}: cannot run {argv[0]}: {exc}") from exc


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    alive: Callable[[], bool],
) -> bool:
    """Poll ready() until it holds (True), alive() fails or the timeout passes (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return True
        if not alive() or time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL)


def wait_gone(pid: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    """Wait until pid has exited (reaping it when it is our child); tell whether it did."""
    if proc is not None:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    return wait_until(lambda: not pid_alive(pid), timeout=timeout, alive=lambda: True)


def stop_process(
    pid: int, proc: subprocess.Popen[bytes] | None, steps: StopSteps
) -> signal.Signals | None:
    """Send each signal of steps in turn until pid is gone; return the one that worked.

    SIGKILL goes to the whole process group when the server leads one (we start each in
    its own session), so no child of it is left behind. None means it was already gone.
    """
    for sig, grace in steps:
        try:
            if sig == signal.SIGKILL and os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            wait_gone(pid, proc, 0)
            return None
        if wait_gone(pid, proc, grace):
            return sig
    raise EmbeddedServerError(f"process {pid} survived {', '.join(s.name for s, _ in steps)}")
