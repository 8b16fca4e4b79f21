"""Contact administration: status codes, and one audit entry per change in its transaction."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog

from tests.integration.app.conftest import AUTH, Client


async def create(client: Client, **body: Any) -> dict[str, Any]:
    resp = await client.post("/api/v1/contacts", json=body, headers=AUTH)
    assert resp.status == 201, await resp.text()
    result: dict[str, Any] = await resp.json()
    return result


async def actions(pg: asyncpg.Connection) -> list[tuple[str, str, str | None]]:
    rows = await pg.fetch("SELECT action, sender_id, channel FROM audit_logs ORDER BY id")
    return [(r["action"], r["sender_id"], r["channel"]) for r in rows]


async def test_create_returns_201_and_audits(client: Client, pg: asyncpg.Connection) -> None:
    """POST creates the contact (trust defaults to trusted) and writes contact_added."""
    contact = await create(client, sender_id="alice", name="Alice", notes="met at PyCon")
    assert contact["trust_level"] == "trusted"
    assert (contact["sender_id"], contact["channel"], contact["name"]) == ("alice", None, "Alice")
    assert contact["created_at"].endswith("+00:00")
    assert await actions(pg) == [("contact_added", "alice", None)]
    row = await pg.fetchrow("SELECT contact_id, metadata FROM audit_logs")
    assert row is not None and row["contact_id"] == contact["id"]


async def test_duplicate_is_409_even_for_global_row(client: Client, pg: asyncpg.Connection) -> None:
    """The same (sender_id, channel) twice is a 409, NULL channel included; nothing audited."""
    await create(client, sender_id="alice")
    await create(client, sender_id="alice", channel="sms")
    for body in ({"sender_id": "alice"}, {"sender_id": "alice", "channel": "sms"}):
        resp = await client.post("/api/v1/contacts", json=body, headers=AUTH)
        assert resp.status == 409
        assert "error" in await resp.json()
    assert len(await actions(pg)) == 2
    assert await pg.fetchval("SELECT count(*) FROM contacts") == 2


async def test_empty_channel_means_global(client: Client) -> None:
    """An empty channel is the global row, so it collides with one created without channel."""
    await create(client, sender_id="alice")
    resp = await client.post(
        "/api/v1/contacts", json={"sender_id": "alice", "channel": ""}, headers=AUTH
    )
    assert resp.status == 409


async def test_get_exact_row(client: Client) -> None:
    """GET addresses exactly (sender_id, channel); no channel is the global row; 404 if none."""
    await create(client, sender_id="bob", channel="email", trust_level="limited")
    resp = await client.get("/api/v1/contacts/bob", params={"channel": "email"}, headers=AUTH)
    assert resp.status == 200
    assert (await resp.json())["trust_level"] == "limited"
    resp = await client.get("/api/v1/contacts/bob", headers=AUTH)
    assert resp.status == 404
    assert "error" in await resp.json()


async def test_list_with_filters(client: Client) -> None:
    """GET /contacts lists everything, or filters by trust level and channel."""
    await create(client, sender_id="a", trust_level="trusted")
    await create(client, sender_id="b", trust_level="blocked", channel="sms")
    await create(client, sender_id="c", trust_level="trusted", channel="sms")
    body = await (await client.get("/api/v1/contacts", headers=AUTH)).json()
    assert body["total"] == 3 and [c["sender_id"] for c in body["contacts"]] == ["a", "b", "c"]
    resp = await client.get("/api/v1/contacts", params={"trust_level": "trusted"}, headers=AUTH)
    assert [c["sender_id"] for c in (await resp.json())["contacts"]] == ["a", "c"]
    resp = await client.get(
        "/api/v1/contacts", params={"channel": "sms", "trust_level": "blocked"}, headers=AUTH
    )
    assert [c["sender_id"] for c in (await resp.json())["contacts"]] == ["b"]
    resp = await client.get("/api/v1/contacts", params={"trust_level": "godlike"}, headers=AUTH)
    assert resp.status == 400
    assert (await resp.json())["details"] == {"field": "trust_level"}


async def test_patch_trust_writes_only_trust_changed(
    client: Client, pg: asyncpg.Connection
) -> None:
    """A PATCH changing trust (and name) writes exactly one trust_changed entry."""
    await create(client, sender_id="carol", trust_level="trusted")
    resp = await client.patch(
        "/api/v1/contacts/carol", json={"trust_level": "blocked", "name": "C"}, headers=AUTH
    )
    assert resp.status == 200
    body = await resp.json()
    assert (body["trust_level"], body["name"]) == ("blocked", "C")
    assert body["updated_at"] >= body["created_at"]
    assert [a for a, _, _ in await actions(pg)] == ["contact_added", "trust_changed"]
    meta = await pg.fetchval("SELECT metadata FROM audit_logs WHERE action = 'trust_changed'")
    assert '"previous_trust": "trusted"' in meta and '"trust_level": "blocked"' in meta


async def test_patch_other_fields_writes_contact_updated(
    client: Client, pg: asyncpg.Connection
) -> None:
    """A PATCH of name/notes writes contact_updated; an unchanged PATCH writes nothing."""
    await create(client, sender_id="dan", channel="sms", name="D")
    url = "/api/v1/contacts/dan"
    resp = await client.patch(url, params={"channel": "sms"}, json={"notes": "n"}, headers=AUTH)
    assert resp.status == 200 and (await resp.json())["notes"] == "n"
    resp = await client.patch(
        url, params={"channel": "sms"}, json={"name": "D", "trust_level": "trusted"}, headers=AUTH
    )
    assert resp.status == 200
    resp = await client.patch(url, params={"channel": "sms"}, json={"name": None}, headers=AUTH)
    assert (await resp.json())["name"] is None
    assert [a for a, _, _ in await actions(pg)] == [
        "contact_added",
        "contact_updated",
        "contact_updated",
    ]


async def test_patch_missing_or_empty(client: Client) -> None:
    """PATCH of a missing contact is 404; an empty or unknown-field body is 400."""
    resp = await client.patch("/api/v1/contacts/nobody", json={"name": "x"}, headers=AUTH)
    assert resp.status == 404
    await create(client, sender_id="erin")
    resp = await client.patch("/api/v1/contacts/erin", json={}, headers=AUTH)
    assert resp.status == 400
    resp = await client.patch("/api/v1/contacts/erin", json={"channel": "x"}, headers=AUTH)
    assert resp.status == 400 and (await resp.json())["details"] == {"field": "channel"}


async def test_delete_is_204_audited_and_keeps_history(
    client: Client, pg: asyncpg.Connection
) -> None:
    """DELETE answers 204, writes contact_removed; older entries lose only their contact_id."""
    contact = await create(client, sender_id="fay", channel="email")
    await client.post("/api/v1/check", json={"sender_id": "fay", "channel": "email"})
    resp = await client.delete("/api/v1/contacts/fay", params={"channel": "email"}, headers=AUTH)
    assert resp.status == 204
    assert [a for a, _, _ in await actions(pg)] == ["contact_added", "allowed", "contact_removed"]
    assert await pg.fetchval("SELECT count(*) FROM audit_logs WHERE contact_id IS NOT NULL") == 0
    meta = await pg.fetchval("SELECT metadata FROM audit_logs WHERE action = 'contact_removed'")
    assert f'"contact_id": {contact["id"]}' in meta
    resp = await client.delete("/api/v1/contacts/fay", params={"channel": "email"}, headers=AUTH)
    assert resp.status == 404
    assert len(await actions(pg)) == 3


async def test_admin_change_and_audit_share_a_transaction(
    client: Client, pg: asyncpg.Connection
) -> None:
    """A failing audit insert rolls the change back; the 500 carries only the request id."""
    await pg.execute(
        """CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$"""
    )
    await pg.execute(
        "CREATE TRIGGER fail_audit BEFORE INSERT ON audit_logs "
        "FOR EACH ROW EXECUTE FUNCTION fail_audit()"
    )
    try:
        with structlog.testing.capture_logs() as logs:
            resp = await client.post(
                "/api/v1/contacts",
                json={"sender_id": "gus"},
                headers={**AUTH, "X-Request-ID": "req-42"},
            )
        assert resp.status == 500
        assert await resp.json() == {
            "error": "internal server error",
            "details": {"request_id": "req-42"},
        }
        assert resp.headers["X-Request-ID"] == "req-42"
        [failure] = [e for e in logs if e["event"] == "request_failed"]
        assert failure["request_id"] == "req-42" and failure["exc_info"]
        assert await pg.fetchval("SELECT count(*) FROM contacts") == 0
    finally:
        await pg.execute("DROP TRIGGER fail_audit ON audit_logs")
        await pg.execute("DROP FUNCTION fail_audit()")
