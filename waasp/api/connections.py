"""The HTTP server's guard against slow and greedy clients.

aiohttp bounds one header line and the number of headers, but not how long a client may take
to send them, nor their total size, nor how many connections one process holds. Each
connection here gets:

- a deadline for its request head (``WAASP_HTTP_HEADER_TIMEOUT``): the first from the moment
  it opens, the next ones from the end of the previous request; an idle keep-alive
  connection is closed after ``WAASP_HTTP_KEEPALIVE_TIMEOUT``;
- a cap on the bytes of each request head (``WAASP_HTTP_MAX_HEADER_BYTES``), counted as they
  arrive, so a head is refused (431) long before it grows;
- at most ``WAASP_HTTP_MAX_REQUESTS`` requests, then ``Connection: close``;
- a place under the process's cap (``WAASP_HTTP_MAX_CONNECTIONS``): beyond it, its request is
  answered 503 with ``Retry-After`` and the connection closed.

The body's deadline (``WAASP_HTTP_BODY_TIMEOUT``) is kept where the body is read
(``waasp.api.jsonio``); an unread body is drained for at most that long, then the connection
closes.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web

from waasp.api.auth import Handler
from waasp.api.errors import HttpError
from waasp.api.jsonio import encode
from waasp.settings import Settings

SERVER_NAME = "waasp"
# One request line: a 255-character sender id percent-encoded as 4-byte UTF-8 is 3 KiB.
MAX_LINE_SIZE = 16384
MAX_FIELD_SIZE = 8190
MAX_HEADERS = 64
LISTEN_BACKLOG = 128
_HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one connection may take, in seconds, requests and bytes."""

    header_timeout: float
    body_timeout: float
    keepalive_timeout: float
    max_requests: int
    max_connections: int
    max_header_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        """The limits ``WAASP_HTTP_*`` configure."""
        return cls(
            header_timeout=settings.http_header_timeout,
            body_timeout=settings.http_body_timeout,
            keepalive_timeout=settings.http_keepalive_timeout,
            max_requests=settings.http_max_requests,
            max_connections=settings.http_max_connections,
            max_header_bytes=settings.http_max_header_bytes,
        )

    def handler_options(self) -> dict[str, Any]:
        """aiohttp's own per-connection options that these limits set."""
        return {
            "access_log": None,
            "keepalive_timeout": self.keepalive_timeout,
            "lingering_time": self.body_timeout,
            "max_line_size": MAX_LINE_SIZE,
            "max_field_size": MAX_FIELD_SIZE,
            "max_headers": MAX_HEADERS,
        }


class HeadMeter:
    """Counts the bytes of a request head as they arrive, up to its blank line."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.size = 0
        self.counting = True
        self._after = 0  # bytes received since the head ended: its body, maybe the next head
        self._tail = b""

    def feed(self, data: bytes) -> bool:
        """Count ``data``; False once the head is past the cap."""
        if not self.counting:
            self._after += len(data)
            return True
        # A blank line split between two reads starts in the last three bytes of the first.
        across = (self._tail + data[:3]).find(_HEAD_END)
        if across >= 0:
            used = across + len(_HEAD_END) - len(self._tail)
        else:
            inside = data.find(_HEAD_END)
            used = inside + len(_HEAD_END) if inside >= 0 else -1
        if used >= 0:
            self.size += used
            self.counting = False
            self._after = len(data) - used
        else:
            self.size += len(data)
            self._tail = (self._tail + data[-3:])[-3:]
        return self.size <= self.cap

    def next_head(self, body_bytes: int | None) -> None:
        """Count the next head from here; what came after this head beyond its body (a
        pipelined head) counts towards it. ``body_bytes`` None: the body's size on the wire
        is unknown (chunked), so the next head counts from zero."""
        self.size = 0 if body_bytes is None else max(self._after - body_bytes, 0)
        self.counting, self._after, self._tail = True, 0, b""


class ConnectionGate:
    """The connections one process holds, against its cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    def enter(self) -> bool:
        """Count a new connection; False when it is beyond the cap."""
        self.open += 1
        return self.open <= self.limit

    def leave(self) -> None:
        """Count a closed connection."""
        self.open -= 1


def raw_error(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 error response that closes the connection, for the moments before
    aiohttp has a request to answer."""
    body = encode({"error": message, "details": None})
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nServer: {SERVER_NAME}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHandler(web.RequestHandler):
    """aiohttp's connection protocol, held to ``HttpLimits`` (see the module docstring)."""

    def __init__(
        self,
        manager: web.Server,
        *,
        loop: asyncio.AbstractEventLoop,
        gate: ConnectionGate,
        limits: HttpLimits,
    ) -> None:
        super().__init__(manager, loop=loop, **limits.handler_options())
        self.limits = limits
        self.gate = gate
        self.over_capacity = False
        self.requests_started = 0
        self._meter = HeadMeter(limits.max_header_bytes)
        self._timer: asyncio.TimerHandle | None = None
        self._entered = False
        self._guard_loop = loop

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Take a place under the cap and start the head's deadline."""
        super().connection_made(transport)
        self._entered = True
        self.over_capacity = not self.gate.enter()
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        """Give the place back."""
        self._disarm()
        if self._entered:
            self._entered = False
            self.gate.leave()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Meter a head as it arrives; refuse it once past the cap."""
        if not self._meter.feed(data):
            self._refuse(431, "request headers too large")
            return
        super().data_received(data)

    def request_started(self) -> None:
        """A whole head arrived and its handler runs: its deadline is met."""
        self.requests_started += 1
        self._meter.counting = False
        self._disarm()

    def request_finished(self, request: web.BaseRequest) -> None:
        """Meter and time the next head, unless the body is unread: aiohttp drains that for
        at most the body timeout and then closes."""
        if not request.body_exists:
            self._meter.next_head(0)
        elif request.content.at_eof():
            self._meter.next_head(request.content_length)
        else:
            return
        self._arm()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's refusal of a malformed request, as our JSON and without a version."""
        super().handle_error(request, status, exc, message)  # logs it (see waasp.logging)
        text = HTTPStatus(status).phrase.lower()
        if message and status < 500:  # the parser's reason, without the bytes it quotes
            text = f"{text}: {message.split(':', 1)[0].strip()}"
        response = web.Response(
            body=encode({"error": text, "details": None}),
            status=status,
            content_type="application/json",
            headers={
                "Server": SERVER_NAME,
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )
        response.force_close()
        return response

    def _refuse(self, status: int, message: str) -> None:
        # Before the first request nothing has been written, so a whole answer can go out;
        # later, a response may be on its way, and the connection is only closed.
        if self.requests_started == 0 and self.transport is not None:
            self.transport.write(raw_error(status, message))
        self.force_close()

    def _arm(self) -> None:
        self._disarm()
        self._timer = self._guard_loop.call_later(self.limits.header_timeout, self._late)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _late(self) -> None:
        self._timer = None
        if not self._meter.counting:
            return  # the head is complete and waits for its handler
        if self.requests_started == 0:
            self._refuse(408, "request headers not received in time")
        elif self._meter.size:
            self.force_close()  # a later head, half sent; an idle connection is keep-alive's


class GuardedSite(web.BaseSite):
    """A TCP site on a bound socket whose connections are ``GuardedHandler``s; the sites of
    one server share one ``ConnectionGate``."""

    def __init__(
        self, runner: web.AppRunner, sock: socket.socket, limits: HttpLimits, gate: ConnectionGate
    ) -> None:
        super().__init__(runner)
        self.sock = sock
        self.limits = limits
        self.gate = gate

    @property
    def name(self) -> str:
        """The URL the site serves."""
        host, port = self.sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    async def start(self) -> None:
        """Listen; every accepted connection gets a guarded protocol."""
        await super().start()
        loop = asyncio.get_running_loop()
        manager = self._runner.server
        assert manager is not None  # BaseSite refuses a runner that was not set up

        def protocol() -> GuardedHandler:
            return GuardedHandler(manager, loop=loop, gate=self.gate, limits=self.limits)

        self._server = await loop.create_server(protocol, sock=self.sock, backlog=LISTEN_BACKLOG)


@web.middleware
async def connection_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tell the connection its head arrived; answer 503 beyond the connection cap."""
    protocol = request.protocol
    if not isinstance(protocol, GuardedHandler):
        return await handler(request)  # served by something else (a test server)
    protocol.request_started()
    try:
        if protocol.over_capacity:
            raise HttpError(
                503,
                "too many connections: try again shortly",
                {"max_connections": protocol.limits.max_connections},
                headers={"Retry-After": "1"},
                close=True,
            )
        return await handler(request)
    finally:
        protocol.request_finished(request)


def closes_connection(request: web.Request) -> bool:
    """Whether this response must be the connection's last (its request quota is spent)."""
    protocol = request.protocol
    if isinstance(protocol, GuardedHandler):
        return protocol.requests_started >= protocol.limits.max_requests
    return False
