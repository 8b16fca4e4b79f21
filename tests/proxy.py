"""A TCP proxy on loopback that tests put in front of a server to play network faults.

``stop()``/``start()`` play a crashed and restarted server (connections cut, then refused,
then accepted again on the same port); ``freeze()``/``thaw()`` play a network stall (every
connection stays open but no byte moves either way, and new connections hang, until thawed).
"""

from __future__ import annotations

import asyncio
import contextlib


class ToggleProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; can cut or freeze the traffic."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    @property
    def frozen(self) -> bool:
        """Tell whether traffic is held."""
        return not self._flowing.is_set()

    async def start(self) -> None:
        """Accept connections (on the same port after a stop)."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and cut every open one, like a crashed server."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        self._flowing.set()

    def freeze(self) -> None:
        """Hold every byte in both directions, keeping the connections open."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Let the held bytes and new ones through again."""
        self._flowing.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._flowing.wait()  # a stalled network does not complete new connections either
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()
