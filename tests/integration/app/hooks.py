"""A webhook receiver for tests: records POSTed JSON, can fail its first requests."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""

    def __init__(self, fail_first: int = 0, status: int = 500) -> None:
        self.fail_first = fail_first
        self.status = status
        self.attempts = 0
        self.delivered: list[dict[str, Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.json()
        if self.attempts <= self.fail_first:
            return web.Response(status=self.status)
        self.delivered.append(body)
        return web.Response(status=200, text="ok")

    async def start(self) -> WebhookReceiver:
        """Listen on a free port."""
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, timeout: float) -> float:
        """Wait until ``count`` bodies were delivered; return the seconds it took."""
        start = time.monotonic()
        while len(self.delivered) < count:
            if time.monotonic() - start > timeout:
                raise AssertionError(
                    f"{len(self.delivered)} of {count} notifications in {timeout}s "
                    f"({self.attempts} attempts)"
                )
            await asyncio.sleep(0.02)
        return time.monotonic() - start
