"""The contact administration endpoints (token required, see routes.py)."""

from __future__ import annotations

from aiohttp import web

from waasp import validation
from waasp.api import serialize
from waasp.api.jsonio import json_response, read_json
from waasp.api.keys import SERVICE


def _identity(request: web.Request) -> tuple[str, str | None]:
    return (
        validation.sender_id(request.match_info["sender_id"]),
        validation.channel(request.query.get("channel")),
    )


async def list_contacts(request: web.Request) -> web.Response:
    """GET /api/v1/contacts?trust_level=&channel=&search=&limit=&offset=: one page, and the
    total."""
    raw_trust = request.query.get("trust_level")
    trust = validation.trust_level(raw_trust) if raw_trust else None
    channel = validation.channel(request.query.get("channel"))
    search = validation.search(request.query.get("search"))
    limit, offset = validation.page(
        request.query,
        default=validation.CONTACTS_LIMIT_DEFAULT,
        high=validation.CONTACTS_LIMIT_MAX,
    )
    service = request.app[SERVICE]
    found = await service.list_contacts(trust, channel, search, limit=limit, offset=offset)
    total = await service.count_contacts(trust, channel, search)
    return json_response(
        {
            "contacts": [serialize.contact(c) for c in found],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


async def create_contact(request: web.Request) -> web.Response:
    """POST /api/v1/contacts: 201 with the contact, 409 if it exists."""
    new = validation.new_contact(await read_json(request))
    contact = await request.app[SERVICE].add_contact(new)
    return json_response(serialize.contact(contact), status=201)


async def get_contact(request: web.Request) -> web.Response:
    """GET /api/v1/contacts/{sender_id}?channel= (no channel: the global row)."""
    sender_id, channel = _identity(request)
    contact = await request.app[SERVICE].get_contact(sender_id, channel)
    return json_response(serialize.contact(contact))


async def update_contact(request: web.Request) -> web.Response:
    """PATCH /api/v1/contacts/{sender_id}?channel= {trust_level?, name?, notes?}."""
    sender_id, channel = _identity(request)
    changes = validation.contact_changes(await read_json(request))
    contact = await request.app[SERVICE].update_contact(sender_id, channel, changes)
    return json_response(serialize.contact(contact))


async def delete_contact(request: web.Request) -> web.Response:
    """DELETE /api/v1/contacts/{sender_id}?channel=: 204."""
    sender_id, channel = _identity(request)
    await request.app[SERVICE].remove_contact(sender_id, channel)
    return web.Response(status=204)
