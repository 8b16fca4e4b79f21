"""Contacts are paged with a total, the audit log has a total and a `since`, `/` leads to the
dashboard, and the OpenAPI description says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.app.conftest import AUTH, Client


async def add(client: Client, sender: str, trust: str = "trusted") -> None:
    response = await client.post(
        "/api/v1/contacts", json={"sender_id": sender, "trust_level": trust}, headers=AUTH
    )
    assert response.status == 201, await response.text()


async def get(client: Client, path: str, status: int = 200) -> Any:
    response = await client.get(path, headers=AUTH)
    assert response.status == status, await response.text()
    return await response.json()


async def test_contacts_are_paged_with_a_total(client: Client) -> None:
    """GET /contacts takes limit and offset and answers the page with the filtered total."""
    for sender in ("c", "a", "e", "b", "d"):
        await add(client, sender, "blocked" if sender in "ae" else "trusted")
    first = await get(client, "/api/v1/contacts?limit=2")
    assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
    rest = await get(client, "/api/v1/contacts?limit=2&offset=2")
    last = await get(client, "/api/v1/contacts?limit=2&offset=4")
    beyond = await get(client, "/api/v1/contacts?offset=10")
    pages = [first, rest, last, beyond]
    senders = [c["sender_id"] for p in pages for c in p["contacts"]]
    assert senders == ["a", "b", "c", "d", "e"]
    assert all(p["total"] == 5 for p in pages)
    blocked = await get(client, "/api/v1/contacts?trust_level=blocked&limit=1")
    assert blocked["total"] == 2 and len(blocked["contacts"]) == 1
    default = await get(client, "/api/v1/contacts")
    assert (default["limit"], default["offset"]) == (100, 0)
    for query in ("limit=0", "limit=1001", "limit=x", "offset=-1"):
        body = await get(client, f"/api/v1/contacts?{query}", status=400)
        assert body["details"] == {"field": query.partition("=")[0]}


async def test_a_search_is_paged_and_counted(client: Client) -> None:
    """`search` narrows the total as well as the page, and pages like any other filter."""
    for sender in ("ann-1", "ann-2", "ANN-3", "bob", "ann-4"):
        await add(client, sender)
    first = await get(client, "/api/v1/contacts?search=ann&limit=3")
    rest = await get(client, "/api/v1/contacts?search=ann&limit=3&offset=3")
    assert (first["total"], rest["total"]) == (4, 4)
    assert (len(first["contacts"]), len(rest["contacts"])) == (3, 1)
    found = {c["sender_id"] for c in [*first["contacts"], *rest["contacts"]]}
    assert found == {"ann-1", "ann-2", "ANN-3", "ann-4"}
    none = await get(client, "/api/v1/contacts?search=nobody&limit=3")
    assert (none["total"], none["contacts"]) == (0, [])


async def test_audit_has_a_total_and_a_since(client: Client) -> None:
    """GET /audit answers the total of entries matching its filters, and `since` keeps the
    entries at or after a time (ISO 8601; no offset means UTC)."""
    await add(client, "a")
    for _ in range(3):
        await client.post("/api/v1/check", json={"sender_id": "a"})
    page = await get(client, "/api/v1/audit?limit=2")
    assert (page["count"], page["total"]) == (2, 4)
    only = await get(client, "/api/v1/audit?action=allowed&limit=1&offset=1")
    assert (only["count"], only["total"]) == (1, 3)
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    recent = await client.get("/api/v1/audit", params={"since": hour_ago}, headers=AUTH)
    assert (await recent.json())["total"] == 4
    none = await client.get("/api/v1/audit", params={"since": future}, headers=AUTH)
    assert (await none.json())["total"] == 0
    bad = await get(client, "/api/v1/audit?since=yesterday", status=400)
    assert bad["details"] == {"field": "since"}


async def test_root_leads_to_the_dashboard(client: Client) -> None:
    """GET / redirects to /dashboard."""
    response = await client.get("/", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/dashboard"


async def test_openapi_describes_paging(client: Client) -> None:
    """The OpenAPI document lists the contacts' limit/offset/total, the audit's total and
    since, and the redirect of /."""
    document = await (await client.get("/api/v1/openapi.json")).json()
    paths = document["paths"]
    contacts = paths["/api/v1/contacts"]["get"]
    names = {p["name"] for p in contacts["parameters"]}
    assert {"trust_level", "channel", "limit", "offset"} <= names
    listed = contacts["responses"]["200"]["content"]["application/json"]["schema"]
    assert {"contacts", "total", "limit", "offset"} <= set(listed["properties"])
    audit = paths["/api/v1/audit"]["get"]
    assert "since" in {p["name"] for p in audit["parameters"]}
    logs = audit["responses"]["200"]["content"]["application/json"]["schema"]
    assert "total" in logs["properties"]
    assert "302" in paths["/"]["get"]["responses"]
