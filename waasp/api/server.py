"""Serve an application until told to stop (``waasp serve``; ``waasp up`` reuses it)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)

# aiohttp's defaults (8 KiB) would answer a GET with a 10,000-character sender_id in plain
# text before our handlers see it; these let validation answer it as JSON instead.
MAX_LINE_SIZE = 65536
MAX_FIELD_SIZE = 65536


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set ``stop`` on SIGINT or SIGTERM (call from inside the running loop)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


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
    # No access log: every decision is in the audit trail, and per-request logging
    # would cost more than the check itself.
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        max_line_size=MAX_LINE_SIZE,
        max_field_size=MAX_FIELD_SIZE,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, shutdown_timeout=10.0)
        await site.start()
        url = _base_url(runner, host, port)
        log.info("api_started", url=url)
        if on_listening is not None:
            result = on_listening(url)
            if result is not None:
                await result
        await stop.wait()
        log.info("api_stopping")
    finally:
        await runner.cleanup()


def _base_url(runner: web.AppRunner, host: str, port: int) -> str:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            port = int(address[1])
            break
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"
