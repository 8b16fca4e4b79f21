"""Serve an application until told to stop (``waasp serve``; ``waasp up`` reuses it).

Connections are held to the limits of ``waasp.api.connections`` (``WAASP_HTTP_*``).
"""

from __future__ import annotations

import asyncio
import resource
import signal
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from waasp.api.connections import (
    MAX_FIELD_SIZE,
    MAX_HEADERS,
    MAX_LINE_SIZE,
    GuardedSite,
    HttpLimits,
)
from waasp.api.keys import SETTINGS

__all__ = ["MAX_FIELD_SIZE", "MAX_HEADERS", "MAX_LINE_SIZE", "run_server", "start_server"]

log = structlog.get_logger(__name__)
SHUTDOWN_TIMEOUT = 10.0
# Descriptors the process holds besides client connections (pools, logs, the listener).
FILES_IN_USE = 64


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set ``stop`` on SIGINT or SIGTERM (call from inside the running loop)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def start_server(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Start serving ``app`` on host:port (0: a free port) with the settings' HTTP limits;
    return the runner (the caller cleans it up) and the base URL."""
    # No access log: every decision is in the audit trail, and per-request logging
    # would cost more than the check itself.
    runner = web.AppRunner(
        app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    limits = HttpLimits.from_settings(app[SETTINGS])
    _warn_if_files_run_out(limits.max_connections)
    try:
        site = GuardedSite(runner, host, port, limits)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, _base_url(runner, host, port)


async def run_server(
    app: web.Application,
    host: str,
    port: int,
    stop: asyncio.Event,
    on_listening: Callable[[str], Awaitable[None] | None] | None = None,
) -> None:
    """Serve ``app`` on host:port until ``stop`` is set, then shut down gracefully.

    ``on_listening`` receives the base URL once the socket is bound (port 0 is resolved).
    """
    runner, url = await start_server(app, host, port)
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


def _base_url(runner: web.AppRunner, host: str, port: int) -> str:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            port = int(address[1])
            break
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"
