"""``python -m waasp.runtime dashboard``: serve the standalone dashboard until a signal.

The token comes from ``WAASP_DASHBOARD_TOKEN``, or is made up at start and printed once on
standard output (never logged: logs are often shipped where the dashboard's users are not).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable, Mapping
from typing import TextIO

from aiohttp import web

from waasp.runtime.app import Runtime
from waasp.runtime.dashboard.app import create_app

TOKEN_VARIABLE = "WAASP_DASHBOARD_TOKEN"


def dashboard_token(environ: Mapping[str, str]) -> tuple[str, bool]:
    """The token, and whether it was made up here (``WAASP_DASHBOARD_TOKEN`` unset or blank)."""
    given = environ.get(TOKEN_VARIABLE, "").strip()
    return (given, False) if given else (secrets.token_urlsafe(32), True)


async def serve(
    runtime: Runtime,
    host: str,
    port: int,
    *,
    metrics_public: bool,
    out: TextIO,
    install_stop: Callable[[Callable[[], None]], None],
) -> None:
    """Serve the dashboard of ``runtime`` on ``host:port`` (0: any free port) until stopped;
    print where, and the token when it was made up."""
    token, generated = dashboard_token(os.environ)
    app = create_app(runtime, token, metrics_public=metrics_public)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        shown = f"[{host}]" if ":" in host else host
        out.write(f"dashboard: http://{shown}:{bound}/dashboard\n")
        if generated:
            out.write(f"token: {token}  (set {TOKEN_VARIABLE} to choose it)\n")
        else:
            out.write(f"token: the value of {TOKEN_VARIABLE}\n")
        out.flush()
        stopped = asyncio.Event()
        install_stop(stopped.set)
        await stopped.wait()
    finally:
        await runner.cleanup()
