"""The gate against a hostile client, over real sockets to the server as `waasp serve` runs it:
what the public check tells, the check token, query strings, channel spellings, response
headers, HEAD, and clients that hang up."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
from typing import Any

import aiohttp
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.app.conftest import AUTH, Served, ServeFactory
from waasp.api.routes import ROUTES


async def call(
    method: str,
    url: str,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Any]:
    """One request; (status, JSON body or text, headers)."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, json=json, headers=headers) as response,
    ):
        text = await response.text()
        body = await response.json() if response.content_type == "application/json" else text
        return response.status, body, response.headers


async def add(served: Served, **contact: Any) -> None:
    """Add a contact with the admin token."""
    status, body, _ = await call(
        "POST", f"{served.url}/api/v1/contacts", json=contact, headers=AUTH
    )
    assert status == 201, body


async def test_public_check_tells_only_what_a_gate_needs(serve: ServeFactory) -> None:
    """Anonymously, an allowed sender's answer has allowed, trust, reason and a request id but
    no name; a blocked and an unknown sender read the same; the admin token sees it all."""
    served = await serve()
    await add(served, sender_id="+15550100", trust_level="sovereign", name="Example Contact (VIP)")
    await add(served, sender_id="+15550199", trust_level="blocked", name="Known Pest")
    status, body, headers = await call("GET", f"{served.url}/api/v1/check/%2B15550100")
    assert status == 200
    assert body == {
        "allowed": True,
        "trust": "sovereign",
        "reason": "sovereign contact",
        "request_id": headers["X-Request-ID"],
    }
    _, blocked, _ = await call("GET", f"{served.url}/api/v1/check/%2B15550199")
    _, unknown, _ = await call("GET", f"{served.url}/api/v1/check/%2B15550777")
    for answer in (blocked, unknown):
        answer.pop("request_id")
    assert blocked == unknown == {"allowed": False, "trust": None, "reason": "sender not allowed"}
    _, full, _ = await call("GET", f"{served.url}/api/v1/check/%2B15550199", headers=AUTH)
    assert (full["name"], full["trust"], full["reason"]) == (
        "Known Pest",
        "blocked",
        "sender is blocked",
    )


async def test_check_token_is_required_when_set(serve: ServeFactory) -> None:
    """With WAASP_CHECK_TOKEN set, both check routes are 401 without a token and 403 with a
    wrong one; the check token gets the public answer, the admin token the full one."""
    served = await serve(check_token="gate-secret")
    await add(served, sender_id="ann", name="Ann")
    gate = {"Authorization": "Bearer gate-secret"}
    for method, path, body in (
        ("GET", "/api/v1/check/ann", None),
        ("POST", "/api/v1/check", {"sender_id": "ann"}),
    ):
        url = f"{served.url}{path}"
        assert (await call(method, url, json=body))[0] == 401
        assert (await call(method, url, json=body, headers={"Authorization": "Bearer x"}))[0] == 403
        status, answer, _ = await call(method, url, json=body, headers=gate)
        assert status == 200 and "name" not in answer and answer["allowed"] is True
        status, answer, _ = await call(method, url, json=body, headers=AUTH)
        assert status == 200 and answer["name"] == "Ann"


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "someone", path)


async def test_unknown_query_parameters_are_400_on_every_route(serve: ServeFactory) -> None:
    """A typo (`chanel`) never weakens a check: it is a 400 naming it, on the check route and
    on every other route of the table; a parameter given twice is a 400 too."""
    served = await serve()
    await add(served, sender_id="mallory", trust_level="trusted")
    await add(served, sender_id="mallory", trust_level="blocked", channel="email")
    status, body, _ = await call("GET", f"{served.url}/api/v1/check/mallory?chanel=email")
    assert status == 400
    assert body["details"] == {"field": "chanel", "unknown": ["chanel"], "allowed": ["channel"]}
    for path, methods in ROUTES.items():
        for method in methods:
            status, body, _ = await call(
                method, f"{served.url}{_concrete(path)}?bogus=1", headers=AUTH
            )
            assert (status, body["details"]["unknown"]) == (400, ["bogus"]), (method, path)
    url = f"{served.url}/api/v1/check/mallory?channel=sms&channel=email"
    status, body, _ = await call("GET", url)
    assert status == 400 and body["details"]["field"] == "channel"


@pytest.mark.parametrize(
    "spelling", ["email", "Email", "EMAIL", "email ", " eMaIl", "\uff45\uff4d\uff41\uff49\uff4c"]
)
async def test_channel_spellings_cannot_sidestep_a_block(
    serve: ServeFactory, spelling: str
) -> None:
    """mallory is trusted everywhere but blocked on email: every spelling of email is
    refused."""
    served = await serve()
    await add(served, sender_id="mallory", trust_level="trusted")
    await add(served, sender_id="mallory", trust_level="blocked", channel="Email ")
    body = {"sender_id": "mallory", "channel": spelling}
    status, answer, _ = await call("POST", f"{served.url}/api/v1/check", json=body)
    assert (status, answer["allowed"]) == (200, False)


@pytest.mark.parametrize(
    ("spelling", "named"),
    [
        ("email\u200b", "U+200B ZERO WIDTH SPACE"),
        ("\u0435mail", "U+0435 CYRILLIC SMALL LETTER IE"),
        ("e\u202email", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ],
)
async def test_invisible_or_look_alike_channels_are_400(
    serve: ServeFactory, spelling: str, named: str
) -> None:
    """A channel with an invisible or look-alike character is a 400 naming the character,
    on a check and on a write."""
    served = await serve()
    for method, path, body in (
        ("POST", "/api/v1/check", {"sender_id": "mallory", "channel": spelling}),
        ("POST", "/api/v1/contacts", {"sender_id": "mallory", "channel": spelling}),
    ):
        status, answer, _ = await call(method, f"{served.url}{path}", json=body, headers=AUTH)
        assert status == 400 and answer["details"]["characters"] == [named]


async def test_star_is_not_a_channel_and_sender_ids_are_trimmed(serve: ServeFactory) -> None:
    """`*` is refused as a channel (a check, a write, a filter); a sender id is stored and
    matched without surrounding whitespace."""
    served = await serve()
    for method, path, body in (
        ("POST", "/api/v1/contacts", {"sender_id": "x", "channel": "*"}),
        ("POST", "/api/v1/check", {"sender_id": "x", "channel": " * "}),
        ("GET", "/api/v1/contacts?channel=*", None),
    ):
        status, answer, _ = await call(method, f"{served.url}{path}", json=body, headers=AUTH)
        assert (status, answer["details"]["field"]) == (400, "channel")
    await add(served, sender_id="  bob \t", trust_level="trusted")
    _, contact, _ = await call("GET", f"{served.url}/api/v1/contacts/bob", headers=AUTH)
    assert contact["sender_id"] == "bob"
    status, answer, _ = await call("POST", f"{served.url}/api/v1/check", json={"sender_id": " bob"})
    assert answer["allowed"] is True


async def test_answers_carry_no_version_and_are_never_cached(serve: ServeFactory) -> None:
    """Every answer, 2xx to 4xx, says `Server: waasp` (no Python, no aiohttp version), and
    API answers say `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`."""
    served = await serve()
    for method, path, headers in (
        ("GET", "/healthz", None),
        ("GET", "/api/v1/contacts", AUTH),
        ("GET", "/api/v1/contacts", None),
        ("GET", "/nowhere", None),
        ("PUT", "/api/v1/check", None),
        ("GET", "/api/v1/openapi.json", None),
    ):
        status, _, answer = await call(method, f"{served.url}{path}", headers=headers)
        assert answer["Server"] == "waasp", (path, status)
        assert answer["Cache-Control"] == "no-store", (path, status)
        assert answer["X-Content-Type-Options"] == "nosniff"


async def test_head_answers_on_get_routes(serve: ServeFactory) -> None:
    """HEAD is answered wherever GET is (same status and headers, no body); elsewhere 405."""
    served = await serve()
    async with aiohttp.ClientSession() as session:
        for path, headers, expected in (
            ("/healthz", None, 200),
            ("/api/v1/contacts", AUTH, 200),
            ("/api/v1/contacts", None, 401),
            ("/api/v1/check", None, 405),
        ):
            async with session.head(f"{served.url}{path}", headers=headers) as response:
                assert response.status == expected, path
                assert await response.read() == b""


@pytest.mark.parametrize("value", ["1_0", " +5 ", "+5", "\u0665", "\uff15", "5 ", "0x10"])
async def test_query_integers_are_ascii_digits(serve: ServeFactory, value: str) -> None:
    """limit accepts ASCII digits only: underscores, signs, spaces, Arabic-Indic or
    full-width digits and hex are a 400 naming limit."""
    served = await serve()
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{served.url}/api/v1/audit", params={"limit": value}, headers=AUTH
        ) as response,
    ):
        assert response.status == 400
        assert (await response.json())["details"]["field"] == "limit"
    status, _, _ = await call("GET", f"{served.url}/api/v1/audit?limit=10", headers=AUTH)
    assert status == 200


async def _hang_up_mid_body(port: int) -> None:
    """Send a check's head and part of its body, then reset the connection."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /api/v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"sender_id": '
    )
    await writer.drain()
    await asyncio.sleep(0.05)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()  # RST, as the probe's clients did


async def test_client_resets_are_one_info_line_not_a_500(serve: ServeFactory) -> None:
    """20 clients reset mid-body: 20 `client_disconnected` info lines, no error and no
    traceback in the log, and /metrics counts 499s, not 500s."""
    served = await serve()
    with structlog.testing.capture_logs() as logs:
        await asyncio.gather(*(_hang_up_mid_body(served.port) for _ in range(20)))
        for _ in range(100):
            if sum(e["event"] == "client_disconnected" for e in logs) >= 20:
                break
            await asyncio.sleep(0.05)
    disconnects = [e for e in logs if e["event"] == "client_disconnected"]
    assert len(disconnects) == 20
    assert {e["log_level"] for e in disconnects} == {"info"}
    assert not [e for e in logs if e["log_level"] in ("error", "critical")]
    assert not any("exc_info" in e or "exception" in e for e in logs)
    _, text, _ = await call("GET", f"{served.url}/metrics", headers=AUTH)
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "waasp_http_requests_total":
                status = sample.labels["status"]
                counts[status] = counts.get(status, 0) + sample.value
    assert counts.get("499") == 20 and "500" not in counts
