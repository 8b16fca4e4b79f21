"""The audit listing and statistics endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.integration.app.conftest import AUTH, Client


async def seed(client: Client) -> None:
    await client.post(
        "/api/v1/contacts", json={"sender_id": "a", "trust_level": "limited"}, headers=AUTH
    )
    for sender, channel in [("a", "sms"), ("b", "sms"), ("b", None), ("a", "email")]:
        await client.post("/api/v1/check", json={"sender_id": sender, "channel": channel})


async def test_list_newest_first_with_shape(client: Client) -> None:
    """GET /audit returns {logs, count, limit, offset}, newest entry first."""
    await seed(client)
    resp = await client.get("/api/v1/audit", headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    assert (body["count"], body["limit"], body["offset"]) == (5, 100, 0)
    assert [e["action"] for e in body["logs"]] == [
        "limited",
        "blocked",
        "blocked",
        "limited",
        "contact_added",
    ]
    first = body["logs"][0]
    assert set(first) == {
        "id",
        "action",
        "sender_id",
        "channel",
        "contact_id",
        "message_preview",
        "metadata",
        "reason",
        "created_at",
    }


async def test_filters(client: Client) -> None:
    """sender_id, action and channel filter the listing, alone or together."""
    await seed(client)

    async def senders(**params: str) -> list[tuple[str, str]]:
        resp = await client.get("/api/v1/audit", params=params, headers=AUTH)
        return [(e["sender_id"], e["action"]) for e in (await resp.json())["logs"]]

    assert await senders(sender_id="b") == [("b", "blocked"), ("b", "blocked")]
    assert await senders(action="limited") == [("a", "limited"), ("a", "limited")]
    assert await senders(channel="sms") == [("b", "blocked"), ("a", "limited")]
    assert await senders(channel="sms", sender_id="a", action="limited") == [("a", "limited")]


async def test_pagination(client: Client) -> None:
    """limit and offset page through the entries."""
    await seed(client)
    resp = await client.get("/api/v1/audit", params={"limit": "2", "offset": "3"}, headers=AUTH)
    body = await resp.json()
    assert (body["count"], body["limit"], body["offset"]) == (2, 2, 3)
    assert [e["action"] for e in body["logs"]] == ["limited", "contact_added"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "1001"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "99999999999999999999999"}, "offset"),
        ({"action": "exploded"}, "action"),
        ({"sender_id": "x" * 256}, "sender_id"),
        ({"channel": "c" * 51}, "channel"),
    ],
)
async def test_bad_query_is_400_naming_the_field(
    client: Client, params: dict[str, str], field: str
) -> None:
    """Out-of-range limit/offset and unknown filters are 400s that name the parameter."""
    resp = await client.get("/api/v1/audit", params=params, headers=AUTH)
    assert resp.status == 400
    assert (await resp.json())["details"] == {"field": field}


async def test_limit_1000_is_fine(client: Client) -> None:
    """limit=1000 is the largest page allowed."""
    resp = await client.get("/api/v1/audit", params={"limit": "1000"}, headers=AUTH)
    assert resp.status == 200


async def test_stats(client: Client, pg: asyncpg.Connection) -> None:
    """GET /audit/stats counts entries per action and returns recent hourly rollups."""
    await seed(client)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    await pg.executemany(
        "INSERT INTO audit_stats_hourly (hour, action, channel, count) VALUES ($1, $2, $3, $4)",
        [
            (hour, "blocked", None, 2),
            (hour, "blocked", "sms", 1),
            (hour - timedelta(days=3), "allowed", None, 9),
        ],
    )
    resp = await client.get("/api/v1/audit/stats", headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    assert body["total_entries"] == 5
    assert body["by_action"] == {"blocked": 2, "contact_added": 1, "limited": 2}
    assert [(h["action"], h["channel"], h["count"]) for h in body["hourly"]] == [
        ("blocked", None, 2),
        ("blocked", "sms", 1),
    ]


async def test_stats_hourly_unique_per_channel_including_null(pg: asyncpg.Connection) -> None:
    """audit_stats_hourly holds one row per (hour, action, channel), NULL channel included."""
    hour = datetime(2024, 1, 1, tzinfo=UTC)
    insert = "INSERT INTO audit_stats_hourly (hour, action, channel, count) VALUES ($1, 'x', $2, 1)"
    await pg.execute(insert, hour, None)
    with pytest.raises(asyncpg.UniqueViolationError):
        await pg.execute(insert, hour, None)
    upsert = """INSERT INTO audit_stats_hourly (hour, action, channel, count)
                VALUES ($1, 'x', $2, 1)
                ON CONFLICT (hour, action, (COALESCE(channel, ''))) DO UPDATE
                SET count = audit_stats_hourly.count + 1"""
    await pg.execute(upsert, hour, None)
    assert await pg.fetchval("SELECT count FROM audit_stats_hourly") == 2
