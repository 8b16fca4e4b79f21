"""Health, readiness, OpenAPI, trailing slashes, and life without PostgreSQL."""

from __future__ import annotations

import asyncio

from tests.integration.app.conftest import (
    AUTH,
    Client,
    ClientFactory,
    proxied_url,
)
from tests.proxy import ToggleProxy
from waasp.api.keys import READINESS_PROBES
from waasp.api.readiness import ReadinessProbe

DEAD_DATABASE = "postgresql://postgres@127.0.0.1:9/nowhere"


async def test_healthz_and_readyz_when_up(client: Client) -> None:
    """/healthz and /readyz both answer 200 when PostgreSQL is reachable."""
    assert await (await client.get("/healthz")).json() == {"status": "ok"}
    resp = await client.get("/readyz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ready", "checks": {"postgresql": "ok"}}


async def test_without_database_live_not_ready_and_check_503(make_client: ClientFactory) -> None:
    """With PostgreSQL unreachable: healthz 200, readyz 503, check 503 (never allowed)."""
    client = await make_client(database_url=DEAD_DATABASE)
    assert (await client.get("/healthz")).status == 200
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert "postgresql" in (await resp.json())["details"]["checks"]
    for _ in range(3):
        resp = await client.post("/api/v1/check", json={"sender_id": "anyone"})
        assert resp.status == 503
        body = await resp.json()
        assert "allowed" not in body and "postgresql" in body["error"]
    resp = await client.get("/api/v1/contacts", headers=AUTH)
    assert resp.status == 503


async def test_recovers_when_database_returns(
    make_client: ClientFactory, pg_proxy: ToggleProxy, app_database_url: str
) -> None:
    """PostgreSQL going away and coming back needs no restart of the API."""
    client = await make_client(database_url=proxied_url(app_database_url, pg_proxy))
    await client.post("/api/v1/contacts", json={"sender_id": "amy"}, headers=AUTH)
    assert (await (await client.post("/api/v1/check", json={"sender_id": "amy"})).json())["allowed"]

    await pg_proxy.stop()
    for _ in range(2):  # the first request finds the pooled connection dead, the next none
        resp = await client.post("/api/v1/check", json={"sender_id": "amy"})
        assert resp.status == 503
    assert (await client.get("/readyz")).status == 503
    assert (await client.get("/healthz")).status == 200

    await pg_proxy.start()
    resp = await client.post("/api/v1/check", json={"sender_id": "amy"})
    assert resp.status == 200 and (await resp.json())["allowed"] is True
    assert (await client.get("/readyz")).status == 200


async def test_readyz_runs_added_probes(make_client: ClientFactory) -> None:
    """Probes appended to the app's list join PostgreSQL's in /readyz."""

    async def redis_down() -> None:
        raise ConnectionError("redis refused")

    async def hangs() -> None:
        await asyncio.sleep(60)

    client = await make_client()
    probes = client.app[READINESS_PROBES]
    probes += [ReadinessProbe("redis", redis_down), ReadinessProbe("slow", hangs)]
    resp = await client.get("/readyz")
    assert resp.status == 503
    checks = (await resp.json())["details"]["checks"]
    assert checks["postgresql"] == "ok"
    assert checks["redis"] == "unavailable"  # the error itself is only logged
    assert checks["slow"].startswith("no answer within")


async def test_openapi_document(client: Client) -> None:
    """/api/v1/openapi.json describes every route, without a token."""
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    assert {
        "/api/v1/check",
        "/api/v1/check/{sender_id}",
        "/api/v1/contacts",
        "/api/v1/contacts/{sender_id}",
        "/api/v1/audit",
        "/api/v1/audit/stats",
        "/healthz",
        "/readyz",
    } <= set(doc["paths"])


async def test_trailing_slash_is_the_same_resource(client: Client) -> None:
    """Every path answers the same with or without a trailing slash."""
    resp = await client.post("/api/v1/contacts/", json={"sender_id": "z"}, headers=AUTH)
    assert resp.status == 201
    assert (await client.get("/api/v1/contacts/z/", headers=AUTH)).status == 200
    assert (await client.post("/api/v1/check/", json={"sender_id": "z"})).status == 200
    assert (await client.get("/api/v1/check/z/")).status == 200
    assert (await client.get("/healthz/")).status == 200
    assert (await client.get("/api/v1/audit/stats/", headers=AUTH)).status == 200
    assert (await client.delete("/api/v1/contacts/z/", headers=AUTH)).status == 204
