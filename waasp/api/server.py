"""Serve an application until told to stop (``waasp serve``; ``waasp up`` reuses it).

The address is bound first (``listen``), so a port in use fails in one line before anything
starts. Connections are held to the limits of ``waasp.api.connections`` (``WAASP_HTTP_*``).
"""

from __future__ import annotations

import asyncio
import resource
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence

import structlog
from aiohttp import web

from waasp.api.connections import (
    LISTEN_BACKLOG,
    MAX_FIELD_SIZE,
    MAX_HEADERS,
    MAX_LINE_SIZE,
    ConnectionGate,
    GuardedSite,
    HttpLimits,
)
from waasp.api.keys import SETTINGS
from waasp.errors import WaaspError
from waasp.interrupts import interrupted

__all__ = [
    "MAX_FIELD_SIZE",
    "MAX_HEADERS",
    "MAX_LINE_SIZE",
    "ListenError",
    "base_url",
    "listen",
    "run_server",
    "serve_until_signalled",
    "start_server",
]

log = structlog.get_logger(__name__)
SHUTDOWN_TIMEOUT = 10.0
# Descriptors the process holds besides client connections (pools, logs, the listener).
FILES_IN_USE = 64


class ListenError(WaaspError):
    """The API's address cannot be bound (in use, not ours, not allowed)."""


def listen(
    host: str, port: int, *, reuse_port: bool = False, backlog: int | None = LISTEN_BACKLOG
) -> list[socket.socket]:
    """Bind and listen on every address of host:port now; raise ListenError, one line,
    when that fails. Port 0 takes one free port, the same for every address.

    ``reuse_port`` sets SO_REUSEPORT, so other processes doing the same share the port (the
    kernel spreads connections over their listeners); ``backlog=None`` binds without
    listening, which holds the port for them without taking any connection."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {shown}: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            chosen = sockets[0].getsockname()[1] if port == 0 and len(sockets) > 1 else port
            sock.bind((address[0], chosen, *address[2:]))
            if backlog is not None:
                sock.listen(backlog)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        reason = (exc.strerror or str(exc)).lower()
        raise ListenError(f"cannot listen on {shown}: {reason}") from None
    return sockets


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def serve_until_signalled(work: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``work(stop)`` in a new event loop; SIGINT, SIGTERM or SIGHUP set ``stop``.

    SIGHUP too: a closed terminal must stop what ``waasp up`` started, not orphan it. A signal
    that comes before the loop runs is noted and sets ``stop`` at once, rather than breaking
    the start of the loop with a KeyboardInterrupt; so does a Ctrl-C noted while the command
    loaded whose KeyboardInterrupt something swallowed (see waasp.interrupts).
    """
    early: list[int] = []
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda signum, _frame: early.append(signum))

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop.set)
        if early or interrupted():
            stop.set()
        await work(stop)

    asyncio.run(run())


async def start_server(
    app: web.Application,
    host: str,
    port: int,
    sockets: Sequence[socket.socket] | None = None,
) -> tuple[web.AppRunner, str]:
    """Start serving ``app`` on host:port (0: a free port), or on ``sockets`` bound by
    ``listen``, with the settings' HTTP limits; return the runner (the caller cleans it up,
    which closes the sockets) and the base URL."""
    bound = list(sockets) if sockets is not None else listen(host, port)
    # No access log: every decision is in the audit trail, and per-request logging
    # would cost more than the check itself.
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    try:
        await runner.setup()
        limits = HttpLimits.from_settings(app[SETTINGS])
        _warn_if_files_run_out(limits.max_connections)
        gate = ConnectionGate(limits.max_connections)  # one cap for every address
        for sock in bound:
            await GuardedSite(runner, sock, limits, gate).start()
    except BaseException:
        await runner.cleanup()
        for sock in bound:
            sock.close()
        raise
    return runner, base_url(bound, host)


async def run_server(
    app: web.Application,
    host: str,
    port: int,
    stop: asyncio.Event,
    on_listening: Callable[[str], Awaitable[None] | None] | None = None,
    sockets: Sequence[socket.socket] | None = None,
) -> None:
    """Serve ``app`` on host:port (or on ``sockets`` bound by ``listen``) until ``stop`` is
    set, then shut down gracefully.

    ``on_listening`` receives the base URL once the socket is bound (port 0 is resolved).
    """
    bound = list(sockets) if sockets is not None else listen(host, port)
    try:
        runner, url = await start_server(app, host, port, bound)
        try:
            log.info("api_started", url=url)
            if on_listening is not None:
                result = on_listening(url)
                if result is not None:
                    await result
            await stop.wait()
            log.info("api_stopping")
        finally:
            await runner.cleanup()
    finally:
        for sock in bound:
            sock.close()


def _warn_if_files_run_out(max_connections: int) -> None:
    # Past the open-files limit, accept() fails before the cap's clear 503 can be sent.
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and max_connections + FILES_IN_USE > soft:
        log.warning(
            "connection_cap_above_open_files_limit",
            max_connections=max_connections,
            open_files_limit=soft,
            hint="raise `ulimit -n` or lower WAASP_HTTP_MAX_CONNECTIONS",
        )


def base_url(sockets: Sequence[socket.socket], host: str) -> str:
    """The http:// URL of the API listening on ``sockets`` (bound for ``host``)."""
    port = int(sockets[0].getsockname()[1])
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"
