"""Hostile and malformed input: always a clear 4xx as JSON, never a 500, server stays up."""

from __future__ import annotations

import io
import random
from typing import Any

import asyncpg
import pytest

from tests.integration.app.conftest import AUTH, Client

NASTY = [
    "Zoë 🐝 名前",
    "\u202eevil\u202c RTL مرحبا שלום",
    "👩‍👩‍👧‍👦🏳️‍🌈",
    "quote ' double \" back \\ tick `",
    "'; DROP TABLE contacts; --",
    "Robert'); DROP TABLE audit_logs;--",
    "<script>alert(1)</script>",
    "%00%27 {{7*7}} ${jndi:ldap://x}",
    "line\nbreak\ttab\r",
]


async def assert_healthy(client: Client) -> None:
    assert (await client.get("/healthz")).status == 200
    assert (await client.post("/api/v1/check", json={"sender_id": "probe"})).status == 200


async def assert_error(resp: Any, status: int, field: str | None = None) -> None:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in body["error"]
    if field is not None:
        assert body["details"] == {"field": field}


async def test_invalid_json_is_400(client: Client) -> None:
    """A body that is not JSON, or not an object, is a 400 about the body."""
    for raw in (b"{not json", b"", b"[1, 2]", b'"sender"', b"null", b'{"sender_id": "\\ud800"}'):
        resp = await client.post(
            "/api/v1/check", data=raw, headers={"Content-Type": "application/json"}
        )
        await assert_error(resp, 400, "body")
    await assert_healthy(client)


@pytest.mark.parametrize(
    "body",
    [{}, {"sender_id": None}, {"sender_id": ""}, {"sender_id": "   "}, {"channel": "sms"}],
)
async def test_missing_or_empty_sender_id_is_400(client: Client, body: dict[str, Any]) -> None:
    """sender_id missing, null, empty or blank is a 400 naming sender_id."""
    await assert_error(await client.post("/api/v1/check", json=body), 400, "sender_id")
    resp = await client.post("/api/v1/contacts", json=body, headers=AUTH)
    await assert_error(resp, 400, "sender_id")


@pytest.mark.parametrize("value", [1, 1.5, True, [], {}])
async def test_non_string_fields_are_400(client: Client, value: object) -> None:
    """A number, boolean, list or object where a string belongs is a 400 naming the field."""
    for field in ("sender_id", "channel", "message_preview"):
        body = {"sender_id": "s", field: value}
        await assert_error(await client.post("/api/v1/check", json=body), 400, field)


async def test_overlong_fields_are_400(client: Client) -> None:
    """A 10,000-character sender_id, and any field past its limit, is a 400 naming it."""
    check_cases = [("sender_id", "x" * 10_000), ("sender_id", "x" * 256), ("channel", "c" * 51)]
    for field, value in check_cases:
        body = {"sender_id": "s", field: value}
        await assert_error(await client.post("/api/v1/check", json=body), 400, field)
    for field, value in [("name", "n" * 256), ("notes", "n" * 4001), *check_cases]:
        body = {"sender_id": "s", field: value}
        resp = await client.post("/api/v1/contacts", json=body, headers=AUTH)
        await assert_error(resp, 400, field)
    resp = await client.get("/api/v1/check/" + "x" * 10_000)
    await assert_error(resp, 400, "sender_id")
    await assert_healthy(client)


async def test_limits_are_inclusive(client: Client) -> None:
    """Exactly 255 / 50 / 255 characters are accepted."""
    body = {"sender_id": "s" * 255, "channel": "c" * 50, "name": "n" * 255}
    assert (await client.post("/api/v1/contacts", json=body, headers=AUTH)).status == 201


@pytest.mark.parametrize("field", ["sender_id", "channel", "message_preview", "name", "notes"])
async def test_nul_bytes_are_400(client: Client, pg: asyncpg.Connection, field: str) -> None:
    """A NUL byte in any text field is a 400 naming it (PostgreSQL would refuse it)."""
    body = {"sender_id": "s", field: "a\x00b"}
    if field in ("sender_id", "channel", "message_preview"):
        check_body = {k: v for k, v in body.items() if k not in ("name", "notes")}
        if field in check_body:
            await assert_error(await client.post("/api/v1/check", json=check_body), 400, field)
    if field != "message_preview":
        resp = await client.post("/api/v1/contacts", json=body, headers=AUTH)
        await assert_error(resp, 400, field)
    if field in ("name", "notes"):
        await client.post("/api/v1/contacts", json={"sender_id": "p"}, headers=AUTH)
        resp = await client.patch("/api/v1/contacts/p", json={field: "\x00"}, headers=AUTH)
        await assert_error(resp, 400, field)
    await assert_healthy(client)


async def test_nul_bytes_in_url_are_400(client: Client) -> None:
    """A NUL in a path segment or a query parameter is a 400 too."""
    await assert_error(await client.get("/api/v1/check/a%00b"), 400, "sender_id")
    resp = await client.get("/api/v1/check/a", params={"channel": "a\x00"})
    await assert_error(resp, 400, "channel")
    resp = await client.get("/api/v1/audit", params={"sender_id": "a\x00"}, headers=AUTH)
    await assert_error(resp, 400, "sender_id")
    resp = await client.delete("/api/v1/contacts/a%00", headers=AUTH)
    await assert_error(resp, 400, "sender_id")


async def test_unknown_trust_level_is_400(client: Client) -> None:
    """An unknown trust level is a 400 naming trust_level, on create and on update."""
    body = {"sender_id": "s", "trust_level": "godlike"}
    resp = await client.post("/api/v1/contacts", json=body, headers=AUTH)
    await assert_error(resp, 400, "trust_level")
    await client.post("/api/v1/contacts", json={"sender_id": "s"}, headers=AUTH)
    resp = await client.patch("/api/v1/contacts/s", json={"trust_level": "TRUSTED"}, headers=AUTH)
    await assert_error(resp, 400, "trust_level")


async def test_unknown_field_is_400(client: Client) -> None:
    """A field the endpoint does not know is a 400 naming it (catches typos like "trust")."""
    resp = await client.post("/api/v1/check", json={"sender_id": "s", "trust": "x"})
    await assert_error(resp, 400, "trust")


async def test_ten_megabyte_body_is_413(client: Client) -> None:
    """A 10 MB body is refused with 413 as JSON, and the server stays healthy."""
    big = b'{"sender_id": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    resp = await client.post(
        "/api/v1/check", data=io.BytesIO(big), headers={"Content-Type": "application/json"}
    )
    await assert_error(resp, 413)
    await assert_healthy(client)


async def test_chunked_oversized_body_is_413(client: Client) -> None:
    """A body past the limit without a Content-Length (chunked) is a 413 too."""

    async def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 65536

    resp = await client.post(
        "/api/v1/contacts", data=chunks(), headers={"Content-Type": "application/json", **AUTH}
    )
    await assert_error(resp, 413)
    await assert_healthy(client)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_wrong_content_type_is_415(client: Client, content_type: str) -> None:
    """A body declared as anything but JSON is a 415."""
    resp = await client.post(
        "/api/v1/check", data=b'{"sender_id": "s"}', headers={"Content-Type": content_type}
    )
    await assert_error(resp, 415)


async def test_json_content_type_variants_accepted(client: Client) -> None:
    """application/json with a charset, and a +json type, are accepted."""
    for content_type in ("application/json; charset=utf-8", "application/vnd.waasp+json"):
        resp = await client.post(
            "/api/v1/check", data=b'{"sender_id": "s"}', headers={"Content-Type": content_type}
        )
        assert resp.status == 200


async def test_unknown_path_is_404_json(client: Client) -> None:
    """An unknown path is a JSON 404."""
    for path in ("/nope", "/api/v1/", "/api/v2/check", "/api/v1/contacts/a/b"):
        await assert_error(await client.get(path), 404)


async def test_wrong_method_is_405_json(client: Client) -> None:
    """A known path with the wrong method is a JSON 405 listing the allowed methods."""
    resp = await client.get("/api/v1/check")
    await assert_error(resp, 405)
    assert resp.headers["Allow"] == "POST"
    resp = await client.put("/api/v1/contacts/x", headers=AUTH)
    await assert_error(resp, 405)
    assert set(resp.headers["Allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE"}


@pytest.mark.parametrize("text", NASTY)
async def test_nasty_text_stored_and_returned_verbatim(
    client: Client, pg: asyncpg.Connection, text: str
) -> None:
    """Unicode, RTL, emoji, quotes and SQL in every free-text field round-trip byte for byte
    (a sender id only loses surrounding whitespace; channels are names, see test_channels)."""
    channel = "nasty"
    sender = text.strip()
    body = {"sender_id": text, "channel": channel, "name": text, "notes": text}
    resp = await client.post("/api/v1/contacts", json=body, headers=AUTH)
    assert resp.status == 201
    created = await resp.json()
    assert {k: created[k] for k in body} == {**body, "sender_id": sender}

    resp = await client.post(
        "/api/v1/check",
        json={"sender_id": text, "channel": channel, "message_preview": text},
        headers=AUTH,
    )
    answer = await resp.json()
    assert {k: answer[k] for k in ("allowed", "trust", "name", "reason")} == {
        "allowed": True,
        "trust": "trusted",
        "name": text,
        "reason": "trusted contact",
    }
    resp = await client.get("/api/v1/contacts", params={"channel": channel}, headers=AUTH)
    [listed] = (await resp.json())["contacts"]
    assert {k: listed[k] for k in body} == {**body, "sender_id": sender}
    resp = await client.get(
        "/api/v1/audit", params={"sender_id": text, "action": "allowed"}, headers=AUTH
    )
    [entry] = (await resp.json())["logs"]
    assert (entry["sender_id"], entry["channel"], entry["message_preview"]) == (
        sender,
        channel,
        text,
    )
    # The tables are still there, whatever the text said.
    assert await pg.fetchval("SELECT count(*) FROM contacts") == 1


async def test_random_garbage_never_500(client: Client) -> None:
    """Random strings and JSON shapes in every field never produce a 500."""
    rng = random.Random(1234)
    alphabet = "ab'\"\\;-\x00\x01\u202e\U0001f41d\ud7ff\ue000 名"
    for _ in range(150):
        values: list[object] = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300))),
            rng.randint(-(2**70), 2**70),
            None,
            [rng.random()],
        ]
        body = {
            field: rng.choice(values)
            for field in rng.sample(["sender_id", "channel", "message_preview", "name"], 3)
        }
        resp = await client.post("/api/v1/check", json=body)
        assert resp.status in (200, 400), await resp.text()
        resp = await client.post("/api/v1/contacts", json=body, headers=AUTH)
        assert resp.status in (201, 400, 409), await resp.text()
    await assert_healthy(client)
