"""The connection guard's pure parts: the head meter, the connection gate, raw answers — no
I/O."""

from __future__ import annotations

import orjson

from waasp.api.connections import ConnectionGate, HeadMeter, HttpLimits, raw_error
from waasp.settings import Settings

HEAD = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def test_meter_counts_a_head_up_to_its_blank_line() -> None:
    """A head in one read is counted to its blank line, and counting stops there."""
    meter = HeadMeter(1000)
    assert meter.feed(HEAD + b"body bytes")
    assert (meter.size, meter.counting) == (len(HEAD), False)
    assert meter.feed(b"x" * 5000)  # after the head: not counted against the cap


def test_meter_finds_a_blank_line_split_across_reads() -> None:
    """The blank line may arrive split over reads, byte by byte."""
    meter = HeadMeter(1000)
    for byte in HEAD:
        assert meter.counting
        assert meter.feed(bytes([byte]))
    assert (meter.size, meter.counting) == (len(HEAD), False)


def test_meter_refuses_past_the_cap() -> None:
    """Past the cap, feed says so, however the bytes are cut."""
    meter = HeadMeter(100)
    assert meter.feed(b"GET / HTTP/1.1\r\n")
    assert not meter.feed(b"X-Pad: " + b"p" * 100 + b"\r\n")


def test_next_head_counts_what_was_pipelined_beyond_the_body() -> None:
    """Bytes after a head beyond its body belong to the next head; with an unknown body size
    (chunked) the next head counts from zero."""
    meter = HeadMeter(1000)
    meter.feed(HEAD + b"12345" + b"GET /next")
    meter.next_head(5)
    assert (meter.size, meter.counting) == (len(b"GET /next"), True)
    meter.feed(HEAD)
    meter.next_head(None)
    assert meter.size == 0


def test_gate_counts_connections_against_the_cap() -> None:
    """The cap-th connection is in; the next is beyond; one leaving makes room."""
    gate = ConnectionGate(2)
    assert gate.enter() and gate.enter()
    assert not gate.enter()
    gate.leave()
    gate.leave()
    assert gate.enter()


def test_raw_error_is_a_complete_closing_json_answer() -> None:
    """The raw answer has its status, no version banner, a length that matches, and closes."""
    raw = raw_error(431, "request headers too large")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"Server: waasp" in head and b"Connection: close" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert orjson.loads(body) == {"error": "request headers too large", "details": None}


def test_limits_come_from_the_settings() -> None:
    """HttpLimits reads the WAASP_HTTP_* settings and hands aiohttp its share."""
    limits = HttpLimits.from_settings(Settings(http_keepalive_timeout=7.0, http_body_timeout=3.0))
    options = limits.handler_options()
    assert (options["keepalive_timeout"], options["lingering_time"]) == (7.0, 3.0)
    assert options["max_field_size"] == 8190 and options["access_log"] is None
