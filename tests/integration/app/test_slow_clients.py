"""Slow and greedy clients against the server as `waasp serve` runs it, over real loopback
sockets: heads and bodies have deadlines, heads a byte cap, connections a request quota and a
per-process cap; 20 slow huge-header clients cost the server process little memory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.integration.app.conftest import TOKEN, ServeFactory
from tests.integration.app.test_background import _stop_process, _wait_ready
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[3]
SLACK = 1.5  # a loaded machine's scheduling delay on top of a deadline


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw TCP connection to the server on 127.0.0.1."""
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)


async def closed_after(reader: asyncio.StreamReader, limit: float) -> tuple[float, bytes]:
    """Read until the server closes the connection; return (seconds waited, bytes read)."""
    start = time.monotonic()
    received = b""
    try:
        async with asyncio.timeout(limit):
            while chunk := await reader.read(65536):
                received += chunk
    except (ConnectionError, TimeoutError):
        pass
    return time.monotonic() - start, received


async def drip(
    writer: asyncio.StreamWriter, chunks: Iterable[bytes], interval: float, until: asyncio.Event
) -> None:
    """Send ``chunks`` one per ``interval`` until they run out or ``until`` is set."""
    for chunk in chunks:
        if until.is_set():
            return
        try:
            writer.write(chunk)
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(interval)


async def slow_client(
    port: int, chunks: Iterable[bytes], interval: float, limit: float
) -> tuple[float, bytes]:
    """Drip ``chunks`` while watching for the server to close; return how long it took."""
    reader, writer = await connect(port)
    gone = asyncio.Event()
    sender = asyncio.create_task(drip(writer, chunks, interval, gone))
    try:
        result = await closed_after(reader, limit)
    finally:
        gone.set()
        await sender
        writer.close()
    return result


def status_of(raw: bytes) -> int:
    """The status code of a raw HTTP response."""
    return int(raw.split(b" ", 2)[1]) if raw.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")) else 0


def body_of(raw: bytes) -> dict[str, object]:
    """The JSON body of a raw HTTP response."""
    body: dict[str, object] = orjson.loads(raw.split(b"\r\n\r\n", 1)[1])
    return body


async def test_idle_connection_is_answered_408_and_closed(serve: ServeFactory) -> None:
    """A connection that sends nothing is closed with a 408 once the header timeout passes."""
    served = await serve(http_header_timeout=1.0)
    reader, writer = await connect(served.port)
    waited, raw = await closed_after(reader, 1.0 + SLACK)
    writer.close()
    assert 0.8 < waited < 1.0 + SLACK
    assert status_of(raw) == 408 and b"Server: waasp\r\n" in raw
    assert body_of(raw)["error"] == "request headers not received in time"


async def test_dripping_head_is_closed_at_the_header_deadline(serve: ServeFactory) -> None:
    """A head sent a header every 0.2 s never completes: closed (408) at the deadline."""
    served = await serve(http_header_timeout=1.0)
    chunks = [b"GET /healthz HTTP/1.1\r\nHost: x\r\n", *(b"X-Slow: 1\r\n" for _ in range(100))]
    waited, raw = await slow_client(served.port, chunks, 0.2, 1.0 + SLACK)
    assert waited < 1.0 + SLACK
    assert status_of(raw) == 408


async def test_head_past_the_byte_cap_is_431(serve: ServeFactory) -> None:
    """Headers each under aiohttp's field limit but 5 KB together, against a 4 KB cap: 431
    as JSON, and the connection closes (the head is refused as it arrives)."""
    served = await serve(http_max_header_bytes=4096)
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-Pad-%d: %s\r\n" % (i, b"p" * 500) for i in range(10)
    )
    waited, raw = await slow_client(served.port, [head, b"\r\n"], 0.1, 5)
    assert status_of(raw) == 431 and waited < 5
    assert body_of(raw) == {"error": "request headers too large", "details": None}


async def test_a_normal_head_under_the_cap_passes(serve: ServeFactory) -> None:
    """A head just under the cap, sent in pieces, is served as usual."""
    served = await serve(http_max_header_bytes=4096)
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: " + b"p" * 3900
    _, raw = await slow_client(served.port, [head[:2000], head[2000:] + b"\r\n\r\n"], 0.05, 5)
    assert status_of(raw) == 200


async def test_oversized_header_field_is_a_json_400_without_a_version(
    serve: ServeFactory,
) -> None:
    """A 10 KB header line (aiohttp's own limit) is a JSON 400 naming no software version."""
    served = await serve()
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 10_000 + b"\r\n\r\n"
    _, raw = await slow_client(served.port, [head], 0.05, 5)
    assert status_of(raw) == 400
    assert b"Server: waasp\r\n" in raw and b"aiohttp" not in raw and b"Python" not in raw
    assert body_of(raw)["error"] == "bad request: Got more than 8190 bytes when reading"


async def test_dripping_body_is_408_at_the_body_deadline(serve: ServeFactory) -> None:
    """A check whose declared 200-byte body comes one byte every 0.2 s: 408 at the body
    deadline, and the connection closes."""
    served = await serve(http_body_timeout=1.0)
    head = (
        b"POST /api/v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 200\r\n\r\n{"
    )
    waited, raw = await slow_client(served.port, [head, *(b" " for _ in range(100))], 0.2, 5)
    assert status_of(raw) == 408 and waited < 1.0 + SLACK
    assert b"Connection: close" in raw


async def test_idle_keep_alive_connection_is_closed(serve: ServeFactory) -> None:
    """After a request, a keep-alive connection idle past the keep-alive timeout is closed."""
    served = await serve(http_keepalive_timeout=1.0)
    reader, writer = await connect(served.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    first = await asyncio.wait_for(reader.readuntil(b'{"status":"ok"}'), 5)
    assert status_of(first) == 200
    waited, rest = await closed_after(reader, 1.0 + SLACK + 1)
    writer.close()
    assert rest == b"" and waited < 1.0 + SLACK


@pytest.mark.parametrize("pipelined", [True, False], ids=["pipelined", "after-the-answer"])
async def test_next_head_half_sent_is_closed_at_the_header_deadline(
    serve: ServeFactory, pipelined: bool
) -> None:
    """After a served request, a second head that stops halfway (sent with the first, or
    after its answer) is closed at the header deadline, though the keep-alive timeout is long."""
    served = await serve(http_header_timeout=1.0, http_keepalive_timeout=30.0)
    reader, writer = await connect(served.port)
    first, second = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /healthz HTTP/1.1\r\n"
    writer.write(first + second if pipelined else first)
    await asyncio.wait_for(reader.readuntil(b'{"status":"ok"}'), 5)
    if not pipelined:
        writer.write(second)
    waited, rest = await closed_after(reader, 1.0 + SLACK + 1)
    writer.close()
    assert rest == b"" and waited < 1.0 + SLACK


async def test_connection_quota_ends_with_connection_close(serve: ServeFactory) -> None:
    """With a quota of 3 requests, the third answer says Connection: close and the server
    closes; a client just opens another connection."""
    served = await serve(http_max_requests=3)
    reader, writer = await connect(served.port)
    for _ in range(3):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    _, raw = await closed_after(reader, 5)
    writer.close()
    answers = raw.split(b"HTTP/1.1 ")[1:]
    assert [a[:3] for a in answers] == [b"200"] * 3
    assert [b"Connection: close" in a for a in answers] == [False, False, True]
    async with aiohttp.ClientSession() as session:
        for _ in range(7):  # aiohttp reconnects when the server closes
            async with session.get(f"{served.url}/healthz") as response:
                assert response.status == 200


async def test_connections_beyond_the_cap_get_503(serve: ServeFactory) -> None:
    """With a cap of 3, a fourth connection's request is a JSON 503 with Retry-After and the
    connection closes; once one of the three goes, a new connection is served again."""
    served = await serve(http_max_connections=3)
    held = [await connect(served.port) for _ in range(3)]
    await asyncio.sleep(0.1)
    reader, writer = await connect(served.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    _, raw = await closed_after(reader, 5)
    writer.close()
    assert status_of(raw) == 503
    assert b"Retry-After: 1\r\n" in raw and b"Connection: close" in raw
    assert body_of(raw)["details"] == {"max_connections": 3}
    held[0][1].close()
    await asyncio.sleep(0.2)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{served.url}/healthz") as response:
            assert response.status == 200
    for _, w in held[1:]:
        w.close()


def _rss(pid: int) -> int:
    """Resident memory of a process, in bytes (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
async def serve_process(app_database_url: str, redis_url: str) -> AsyncIterator[tuple[int, int]]:
    """`waasp serve` as its own process with a 2 s header timeout; yields (pid, port)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "WAASP_DATABASE_URL": app_database_url,
        "WAASP_REDIS_URL": redis_url,
        "WAASP_KEY_PREFIX": f"slow{port}",
        "WAASP_API_TOKEN": TOKEN,
        "WAASP_HTTP_HEADER_TIMEOUT": "2",
        "WAASP_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "waasp", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await _wait_ready(f"http://127.0.0.1:{port}", 30)
        yield process.pid, port
    finally:
        _stop_process(process)


def _pieces(lines: list[bytes], size: int = 16384) -> list[bytes]:
    """The lines cut into pieces of ``size`` bytes, as a slow link delivers them."""
    joined = b"".join(lines)
    return [joined[i : i + size] for i in range(0, len(joined), size)]


@pytest.mark.timeout(120)
async def test_twenty_slow_huge_header_clients_cost_little_memory(
    serve_process: tuple[int, int],
) -> None:
    """20 clients dripping huge heads (10 with 120 headers of 65,000 bytes, the probe that took
    the server from 69 MB to 370 MB; 10 with 120 headers of 8,000 bytes, each under aiohttp's
    field limit) and 20 dripping small headers forever: the server's RSS grows by less than
    50 MB, and every connection is closed within the 2 s header timeout."""
    pid, port = serve_process
    before = _rss(pid)
    start = [b"GET /healthz HTTP/1.1\r\nHost: x\r\n"]
    huge = _pieces(start + [b"X-Huge-%d: %s\r\n" % (i, b"h" * 65_000) for i in range(120)])
    wide = _pieces(start + [b"X-Wide-%d: %s\r\n" % (i, b"w" * 8_000) for i in range(120)])
    small = [b"GET /healthz HTTP/1.1\r\n", *(b"X-Drip: 1\r\n" for _ in range(1000))]
    limit = 2.0 + SLACK + 2
    clients = [
        *(slow_client(port, huge, 0.02, limit) for _ in range(10)),
        *(slow_client(port, wide, 0.02, limit) for _ in range(10)),
        *(slow_client(port, small, 0.1, limit) for _ in range(20)),
    ]
    peak = before
    running = asyncio.gather(*clients)
    while not running.done():
        peak = max(peak, _rss(pid))
        await asyncio.sleep(0.05)
    results = await running
    growth_mb = (peak - before) / 2**20
    waits = [round(waited, 2) for waited, _ in results]
    print(f"RSS {before / 2**20:.0f} MB -> peak {peak / 2**20:.0f} MB; closed after {waits}")
    assert growth_mb < 50, f"RSS grew {growth_mb:.1f} MB"
    assert max(waits) < 2.0 + SLACK, waits
    # 400: a 65,000-byte line is past aiohttp's field limit; 431: past the head cap; 0: the
    # connection was reset before the client read the answer.
    assert {status_of(raw) for _, raw in results[:10]} <= {400, 0}
    assert {status_of(raw) for _, raw in results[10:20]} <= {431, 0}
    assert {status_of(raw) for _, raw in results[20:]} == {408}
