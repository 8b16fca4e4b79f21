"""Bearer-token authentication of the admin routes."""

from __future__ import annotations

import pytest

from tests.integration.app.conftest import AUTH, TOKEN, Client

ADMIN_ROUTES = [
    ("GET", "/api/v1/contacts"),
    ("POST", "/api/v1/contacts"),
    ("GET", "/api/v1/contacts/alice"),
    ("PATCH", "/api/v1/contacts/alice"),
    ("DELETE", "/api/v1/contacts/alice"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/audit/stats"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_missing_token_is_401(client: Client, method: str, path: str) -> None:
    """Without a token every admin route is 401 with a challenge, localhost included."""
    resp = await client.request(method, path)
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error" in await resp.json()


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
async def test_wrong_token_is_403(client: Client, method: str, path: str) -> None:
    """A wrong token is 403 on every admin route."""
    resp = await client.request(method, path, headers={"Authorization": f"Bearer {TOKEN}x"})
    assert resp.status == 403
    assert "error" in await resp.json()


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", TOKEN, f"Token {TOKEN}"]
)
async def test_malformed_authorization_is_401(client: Client, header: str) -> None:
    """A header that is not "Bearer <token>" counts as no token."""
    resp = await client.get("/api/v1/contacts", headers={"Authorization": header})
    assert resp.status == 401


async def test_non_ascii_token_is_403_not_500(client: Client) -> None:
    """A token with non-ASCII characters is compared (and refused) without an error."""
    resp = await client.get("/api/v1/contacts", headers={"Authorization": "Bearer ключ🔑"})
    assert resp.status == 403


async def test_right_token_passes_any_scheme_case(client: Client) -> None:
    """The right token is accepted, whatever the case of the scheme."""
    assert (await client.get("/api/v1/contacts", headers=AUTH)).status == 200
    resp = await client.get("/api/v1/contacts", headers={"Authorization": f"bearer {TOKEN}"})
    assert resp.status == 200
