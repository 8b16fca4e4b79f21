"""Hostile input over HTTP, generated: arbitrary JSON, arbitrary strings in every field,
query parameter and path segment, arbitrary bytes, huge and deeply nested bodies. Never a
5xx, never a traceback, never ``allowed: true`` for a sender nobody added."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.app.conftest import AUTH, Client

# The same client serves every example on purpose: the server must survive them all.
HOSTILE = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=12,
)
FIELDS = ["sender_id", "channel", "message_preview", "trust_level", "name", "notes"]
bodies = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
    st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=600), max_size=6),
)
JSON = {"Content-Type": "application/json"}


async def assert_answer(resp: Any, allowed: set[int]) -> Any:
    """A status the client caused (never a 5xx), and a JSON body without a traceback."""
    text = await resp.text()
    assert resp.status in allowed, f"{resp.status}: {text[:500]}"
    assert "Traceback" not in text and 'File "' not in text
    if resp.status == 204:
        return None
    assert resp.content_type == "application/json"
    return orjson.loads(text)


@HOSTILE
@given(body=bodies)
async def test_any_json_check_is_4xx_or_a_refusal(client: Client, body: Any) -> None:
    """Any JSON document POSTed to /check is a 400 or a 200 that refuses (nobody was added)."""
    resp = await client.post("/api/v1/check", data=orjson.dumps(body), headers=JSON)
    answer = await assert_answer(resp, {200, 400})
    if resp.status == 200:
        assert answer["allowed"] is False


@HOSTILE
@given(body=bodies, sender=st.text(max_size=300))
async def test_any_json_on_admin_routes_is_never_5xx(
    client: Client, body: Any, sender: str
) -> None:
    """Any JSON document on the contact routes, under any sender path segment, is answered
    with a status the client caused."""
    raw = orjson.dumps(body)
    path = f"/api/v1/contacts/{quote(sender, safe='')}"
    headers = {**AUTH, **JSON}
    await assert_answer(
        await client.post("/api/v1/contacts", data=raw, headers=headers), {201, 400, 409}
    )
    # An empty segment names the collection, where PATCH and DELETE are 405.
    await assert_answer(await client.patch(path, data=raw, headers=headers), {200, 400, 404, 405})
    await assert_answer(await client.get(path, headers=AUTH), {200, 400, 404})
    # (an empty segment: GET of the contact collection is 200, of /check/ is 405)
    resp = await client.get(f"/api/v1/check/{quote(sender, safe='')}")
    await assert_answer(resp, {200, 400, 404, 405})
    await assert_answer(await client.delete(path, headers=AUTH), {204, 400, 404, 405})


@HOSTILE
@given(
    params=st.dictionaries(
        st.sampled_from(["sender_id", "action", "channel", "limit", "offset", "trust_level"]),
        st.text(max_size=100),
    )
)
async def test_any_query_string_is_never_5xx(client: Client, params: dict[str, str]) -> None:
    """Arbitrary strings in every query parameter of the listing routes are 200 or 400."""
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    for path in ("/api/v1/audit", "/api/v1/contacts", "/api/v1/check/someone"):
        await assert_answer(await client.get(f"{path}?{query}", headers=AUTH), {200, 400})


@HOSTILE
@given(raw=st.binary(max_size=2000), content_type=st.sampled_from(["application/json", None]))
async def test_any_bytes_body_is_4xx(client: Client, raw: bytes, content_type: str | None) -> None:
    """Arbitrary bytes as a body (typed as JSON, or not typed at all) are refused with a 4xx
    (or, if they happen to be a valid request, answered), never a 5xx."""
    headers = {"Content-Type": content_type} if content_type else {}
    resp = await client.post("/api/v1/check", data=raw, headers=headers)
    await assert_answer(resp, {200, 400, 415})
    resp = await client.post("/api/v1/contacts", data=raw, headers={**AUTH, **headers})
    await assert_answer(resp, {201, 400, 409, 415})


async def test_huge_and_deeply_nested_bodies_are_4xx(client: Client) -> None:
    """A body nested 100,000 deep, one with 50,000 keys, one over the size limit and a
    900 KB field are each a 4xx; the server answers a normal check afterwards."""
    deep = b"[" * 100_000 + b"]" * 100_000
    deep_object = b'{"sender_id": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001
    wide = orjson.dumps({f"k{i}": i for i in range(50_000)})
    too_big = orjson.dumps({"sender_id": "x" * (2 * 1024 * 1024)})
    long_field = orjson.dumps({"sender_id": "x" * 900_000})
    for raw, status in (
        (deep, 400),
        (deep_object, 400),
        (wide, 400),
        (too_big, 413),
        (long_field, 400),
    ):
        for path, headers in (("/api/v1/check", JSON), ("/api/v1/contacts", {**AUTH, **JSON})):
            resp = await client.post(path, data=io.BytesIO(raw), headers=headers)
            await assert_answer(resp, {status})
    resp = await client.post("/api/v1/check", json={"sender_id": "still-here"})
    assert (await assert_answer(resp, {200}))["allowed"] is False
