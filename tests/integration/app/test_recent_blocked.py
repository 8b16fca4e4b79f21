"""The dashboard's whitelist reads: who was refused lately, and contacts found by search."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.integration.app.conftest import AUTH, Client
from tests.integration.app.test_monitor_api import is_iso_utc


async def check(client: Client, sender: str, channel: str | None = None, times: int = 1) -> None:
    """Check ``sender`` on ``channel`` ``times`` times (each is audited)."""
    for _ in range(times):
        body = {"sender_id": sender, "channel": channel}
        assert (await client.post("/api/v1/check", json=body)).status == 200


async def recent(client: Client, status: int = 200, **params: str) -> Any:
    """GET /api/v1/audit/recent-blocked with the token."""
    response = await client.get("/api/v1/audit/recent-blocked", params=params, headers=AUTH)
    assert response.status == status, await response.text()
    return await response.json()


async def test_recent_blocked_groups_and_counts_refused_senders(client: Client) -> None:
    """Refused checks are grouped per sender and channel, most refused first, with totals."""
    await client.post(
        "/api/v1/contacts", json={"sender_id": "friend", "trust_level": "trusted"}, headers=AUTH
    )
    await check(client, "friend", "sms", times=2)  # allowed: never listed
    await check(client, "spammer", "sms", times=3)
    await check(client, "spammer", "email")
    await check(client, "stranger", None, times=2)

    body = await recent(client)
    assert body["window"] == "1h"
    assert (body["checks"], body["senders"]) == (6, 3)
    rows = [(b["sender_id"], b["channel"], b["checks"]) for b in body["blocked"]]
    assert rows == [("spammer", "sms", 3), ("stranger", None, 2), ("spammer", "email", 1)]
    first = body["blocked"][0]
    assert first["contact"] is None  # unknown: no contact decides it
    assert body["since"] < first["first_seen"] <= first["last_seen"]
    assert is_iso_utc(body["since"])
    assert all(is_iso_utc(row[k]) for row in body["blocked"] for k in ("first_seen", "last_seen"))


async def test_recent_blocked_names_the_contact_that_decides_now(client: Client) -> None:
    """Each row carries the contact a check on its channel would match now, or null."""
    for body in (
        {"sender_id": "eve", "trust_level": "blocked"},
        {"sender_id": "eve", "trust_level": "trusted", "channel": "sms"},
    ):
        assert (await client.post("/api/v1/contacts", json=body, headers=AUTH)).status == 201
    await check(client, "eve", "email")
    await client.patch("/api/v1/contacts/eve", json={"trust_level": "blocked"}, headers=AUTH)

    [row] = (await recent(client))["blocked"]
    assert (row["sender_id"], row["channel"]) == ("eve", "email")
    assert row["contact"]["channel"] is None and row["contact"]["trust_level"] == "blocked"

    allow = {"sender_id": "eve", "trust_level": "trusted", "channel": "email"}
    assert (await client.post("/api/v1/contacts", json=allow, headers=AUTH)).status == 201
    [row] = (await recent(client))["blocked"]  # still refused in the window, now allowed
    assert (row["contact"]["channel"], row["contact"]["trust_level"]) == ("email", "trusted")


async def test_recent_blocked_windows_and_limit(client: Client, pg: asyncpg.Connection) -> None:
    """An hour-old refusal counts in the day's window only; ``limit`` cuts the list, not the
    totals."""
    await check(client, "old", "sms")
    await pg.execute(
        "UPDATE audit_logs SET created_at = now() - interval '2 hours' WHERE sender_id = 'old'"
    )
    await check(client, "new", "sms", times=2)
    await check(client, "newer", "sms")

    assert [b["sender_id"] for b in (await recent(client, window="1h"))["blocked"]] == [
        "new",
        "newer",
    ]
    day = await recent(client, window="24h")
    assert [b["sender_id"] for b in day["blocked"]] == ["new", "newer", "old"]
    cut = await recent(client, window="24h", limit="1")
    assert [b["sender_id"] for b in cut["blocked"]] == ["new"]
    assert (cut["checks"], cut["senders"]) == (4, 3)


async def test_recent_blocked_refuses_bad_parameters_and_needs_the_token(client: Client) -> None:
    """A window other than 1h/24h or a limit out of range is a 400 naming it; no token, 401."""
    assert (await recent(client, 400, window="7d"))["details"]["field"] == "window"
    assert (await recent(client, 400, limit="0"))["details"]["field"] == "limit"
    assert (await recent(client, 400, limit="501"))["details"]["field"] == "limit"
    assert (await recent(client, window="24h"))["blocked"] == []
    assert (await client.get("/api/v1/audit/recent-blocked")).status == 401


async def test_contacts_search_matches_sender_or_name_in_any_case(client: Client) -> None:
    """``search`` finds a part of the sender_id or the name, case-insensitively, and treats
    LIKE's wildcards as plain characters."""
    for sender, name in [("alice@x.org", "Alice"), ("bob", "Robert Smith"), ("100%_real", None)]:
        body = {"sender_id": sender, "name": name}
        assert (await client.post("/api/v1/contacts", json=body, headers=AUTH)).status == 201

    async def found(term: str, **extra: str) -> list[str]:
        params = {"search": term, **extra}
        response = await client.get("/api/v1/contacts", params=params, headers=AUTH)
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["total"] == len(body["contacts"])
        return [c["sender_id"] for c in body["contacts"]]

    assert await found("ALICE") == ["alice@x.org"]
    assert await found("smith") == ["bob"]
    assert await found("%") == ["100%_real"]
    assert await found("_") == ["100%_real"]
    assert await found("o") == ["alice@x.org", "bob"]
    assert await found("  ") == ["100%_real", "alice@x.org", "bob"]  # blank: no search
    assert await found("bob", trust_level="blocked") == []
    response = await client.get("/api/v1/contacts", params={"search": "x" * 256}, headers=AUTH)
    assert response.status == 400
    assert (await response.json())["details"]["field"] == "search"
