"""The `waasp` command line, run as a subprocess against the test database."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

from tests.integration.app.test_health import DEAD_DATABASE
from tests.servers import free_port

REPO = Path(__file__).resolve().parents[3]


@dataclass
class Result:
    code: int
    out: str
    err: str


def cli_env(database_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAASP_")}
    env["PYTHONPATH"] = str(REPO)
    env["WAASP_LOG_FORMAT"] = "json"
    if database_url is not None:
        env["WAASP_DATABASE_URL"] = database_url
    env.update(extra)
    return env


async def waasp(database_url: str | None, *args: str, **extra: str) -> Result:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "waasp",
        *args,
        env=cli_env(database_url, **extra),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    result = Result(proc.returncode or 0, out.decode(), err.decode())
    assert "Traceback" not in result.err, result.err
    return result


async def test_check_exit_codes(app_database_url: str, pg: asyncpg.Connection) -> None:
    """check exits 0 when allowed, 1 when not, and audits like the API."""
    assert (await waasp(app_database_url, "add", "ann", "--trust", "limited")).code == 0
    allowed = await waasp(app_database_url, "check", "ann", "--channel", "sms")
    assert allowed.code == 0 and allowed.out.startswith("allowed")
    refused = await waasp(app_database_url, "check", "nobody")
    assert refused.code == 1 and refused.out.startswith("not allowed: unknown sender")
    shown = await waasp(app_database_url, "check", "nobody", "--json")
    document = json.loads(shown.out)  # what the API shows the admin token
    assert shown.code == 1 and set(document) == {"allowed", "trust", "name", "reason", "request_id"}
    assert (document["allowed"], document["reason"]) == (False, "unknown sender")
    actions = [r["action"] for r in await pg.fetch("SELECT action FROM audit_logs ORDER BY id")]
    assert actions == ["contact_added", "limited", "blocked", "blocked"]


async def test_check_errors_exit_2(app_database_url: str) -> None:
    """check exits 2, with one line and no traceback, on bad input or an unreachable database."""
    for args, message in [
        (("check", ""), "SENDER: must not be empty"),
        (("check", "x" * 300), "SENDER: must be at most 255"),
        (("check", "x", "--channel", "c" * 51), "--channel: must be at most 50"),
        (("check",), "usage"),
    ]:
        result = await waasp(app_database_url, *args)
        assert result.code == 2 and message in result.err, result
    result = await waasp(DEAD_DATABASE, "check", "x")
    assert result.code == 2 and "postgresql unavailable" in result.err
    result = await waasp(None, "check", "x")
    assert result.code == 2 and "WAASP_DATABASE_URL" in result.err


async def test_add_list_remove(app_database_url: str) -> None:
    """add, list and remove manage contacts, with clear messages and exit codes."""
    added = await waasp(
        app_database_url, "add", "bob", "--trust", "trusted", "--name", "Bob", "--channel", "sms"
    )
    assert added.code == 0 and "added bob on channel sms" in added.out
    duplicate = await waasp(
        app_database_url, "add", "bob", "--trust", "blocked", "--channel", "sms"
    )
    assert duplicate.code == 1 and "already exists" in duplicate.err
    await waasp(app_database_url, "add", "cid", "--trust", "blocked")
    listed = await waasp(app_database_url, "list")
    assert listed.code == 0
    lines = listed.out.splitlines()
    assert lines[0].split() == ["SENDER", "CHANNEL", "TRUST", "NAME"]
    assert lines[1].split() == ["bob", "sms", "trusted", "Bob"]
    assert lines[2].split() == ["cid", "*", "blocked"]
    filtered = await waasp(app_database_url, "list", "--trust", "blocked", "--json")
    assert '"sender_id":"cid"' in filtered.out and "bob" not in filtered.out
    missing = await waasp(app_database_url, "remove", "bob")
    assert missing.code == 1 and "no contact" in missing.err
    removed = await waasp(app_database_url, "remove", "bob", "--channel", "sms")
    assert removed.code == 0 and "removed bob on channel sms" in removed.out


def is_iso_utc(value: str) -> bool:
    """Tell whether ``value`` is an ISO 8601 time in UTC."""
    return dt.datetime.fromisoformat(value).utcoffset() == dt.timedelta(0)


async def test_update_changes_a_contact(app_database_url: str, pg: asyncpg.Connection) -> None:
    """update changes trust, name or notes ("" clears) and is audited like a PATCH; it says
    what to give when given nothing; add defaults to trusted, as the API does."""
    added = await waasp(app_database_url, "add", "dan", "--name", "Dan")
    assert added.code == 0 and "with trust trusted" in added.out, added
    changed = await waasp(
        app_database_url, "update", "dan", "--trust", "blocked", "--name", "", "--json"
    )
    assert changed.code == 0, changed
    contact = json.loads(changed.out)
    assert (contact["trust_level"], contact["name"]) == ("blocked", None)
    assert is_iso_utc(contact["updated_at"])
    assert (await waasp(app_database_url, "check", "dan")).code == 1
    renamed = await waasp(app_database_url, "update", "dan", "--notes", "met at FOSDEM")
    assert renamed.code == 0 and "updated dan on every channel: trust blocked" in renamed.out
    nothing = await waasp(app_database_url, "update", "dan")
    assert nothing.code == 2 and "--trust, --name, --notes" in nothing.err
    missing = await waasp(app_database_url, "update", "nobody", "--trust", "trusted")
    assert missing.code == 1 and "no contact" in missing.err
    actions = [r["action"] for r in await pg.fetch("SELECT action FROM audit_logs ORDER BY id")]
    assert actions == ["contact_added", "trust_changed", "blocked", "contact_updated"]


async def test_list_pages_with_a_total(app_database_url: str) -> None:
    """list shows a page (--limit, --offset) and says where it is in the total."""
    for sender in ("p1", "p2", "p3"):
        assert (await waasp(app_database_url, "add", sender, "--trust", "trusted")).code == 0
    first = await waasp(app_database_url, "list", "--limit", "2")
    assert first.code == 0
    assert [line.split()[0] for line in first.out.splitlines()[1:3]] == ["p1", "p2"]
    assert first.out.splitlines()[-1] == "1-2 of 3 (--offset 2 for more)"
    last = json.loads((await waasp(app_database_url, "list", "--json", "--offset", "2")).out)
    assert (last["total"], last["limit"], last["offset"]) == (3, 100, 2)
    assert [c["sender_id"] for c in last["contacts"]] == ["p3"]
    assert is_iso_utc(last["contacts"][0]["created_at"])
    bad = await waasp(app_database_url, "list", "--limit", "0")
    assert bad.code == 2 and "--limit" in bad.err


async def test_list_searches_like_the_api(app_database_url: str) -> None:
    """list --search keeps the contacts whose sender or name contains the text, in any case,
    and counts only those in the total."""
    for sender, name in (("s1", "Sam"), ("s2", "Ann"), ("sam@x", "-")):
        added = await waasp(app_database_url, "add", sender, "--trust", "trusted", "--name", name)
        assert added.code == 0
    found = json.loads((await waasp(app_database_url, "list", "--search", "SAM", "--json")).out)
    assert sorted(c["sender_id"] for c in found["contacts"]) == ["s1", "sam@x"]
    assert found["total"] == 2
    long = await waasp(app_database_url, "list", "--search", "x" * 256)
    assert long.code == 2 and "--search" in long.err


async def test_audit_command(app_database_url: str) -> None:
    """audit lists the trail newest first, filtered by sender, action and --since (a span
    or an ISO time), a page at a time with the total; --json is one document, ISO times."""
    await waasp(app_database_url, "add", "eve", "--trust", "limited")
    for sender in ("eve", "eve", "mallory"):
        await waasp(app_database_url, "check", sender)
    table = await waasp(app_database_url, "audit", "--limit", "2")
    assert table.code == 0, table
    lines = table.out.splitlines()
    assert lines[0].split() == ["TIME", "ACTION", "SENDER", "CHANNEL", "DETAIL"]
    assert lines[1].split()[1:3] == ["blocked", "mallory"] and is_iso_utc(lines[1].split()[0])
    assert lines[-1] == "1-2 of 4 (--offset 2 for more)"
    document = json.loads((await waasp(app_database_url, "audit", "--json")).out)
    assert (document["count"], document["total"]) == (4, 4)
    assert all(is_iso_utc(entry["created_at"]) for entry in document["logs"])
    eve = json.loads(
        (await waasp(app_database_url, "audit", "--sender", "eve", "--json", "--limit", "1")).out
    )
    assert (eve["count"], eve["total"]) == (1, 3)
    limited = json.loads(
        (await waasp(app_database_url, "audit", "--action", "limited", "--json")).out
    )
    assert limited["total"] == 2
    recent = json.loads((await waasp(app_database_url, "audit", "--since", "1h", "--json")).out)
    assert recent["total"] == 4
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    future = json.loads((await waasp(app_database_url, "audit", "--since", later, "--json")).out)
    assert future["total"] == 0
    bad = await waasp(app_database_url, "audit", "--since", "last tuesday")
    assert bad.code == 2 and "--since" in bad.err


async def test_every_whitelist_command_prints_json(app_database_url: str) -> None:
    """add, remove, update, check, list, audit and migrate each print one JSON document with
    --json."""
    runs = [
        ("add", "zed", "--trust", "limited", "--json"),
        ("update", "zed", "--name", "Zed", "--json"),
        ("check", "zed", "--json"),
        ("list", "--json"),
        ("audit", "--json"),
        ("remove", "zed", "--json"),
        ("migrate", "--json"),
    ]
    for args in runs:
        result = await waasp(app_database_url, *args)
        assert result.code == 0, (args, result)
        assert isinstance(json.loads(result.out), dict), args
    assert json.loads((await waasp(app_database_url, "migrate", "--json")).out)["applied"] == []


async def test_add_rejects_bad_values(app_database_url: str) -> None:
    """add refuses an unknown trust level and a NUL byte, with exit 2 and no traceback."""
    result = await waasp(app_database_url, "add", "x", "--trust", "godlike")
    assert result.code == 2 and "invalid choice" in result.err
    result = await waasp(app_database_url, "add", "x", "--trust", "trusted", "--name", "a\x01b\x7f")
    assert result.code == 0
    result = await waasp(None, "add", "x", "--trust", "trusted")
    assert result.code == 2 and "no `waasp up` runs on the data dir" in result.err


async def test_migrate_is_idempotent(app_database_url: str) -> None:
    """migrate on an up-to-date database changes nothing and says so."""
    result = await waasp(app_database_url, "migrate")
    assert result.code == 0 and "up to date" in result.out


async def test_migrate_unreachable_database_fails_cleanly() -> None:
    """migrate against an unreachable server exits 1 with one line on stderr."""
    result = await waasp(DEAD_DATABASE, "migrate")
    assert result.code == 1 and "postgresql unavailable" in result.err


async def test_bad_setting_names_the_variable(app_database_url: str) -> None:
    """A bad environment variable is reported by name, exit 2."""
    result = await waasp(app_database_url, "list", WAASP_AUDIT_RETENTION_DAYS="-3")
    assert result.code == 2 and "WAASP_AUDIT_RETENTION_DAYS" in result.err


async def test_serve_starts_without_database_and_stops_on_sigterm(tmp_path: Path) -> None:
    """serve starts with PostgreSQL down (healthz 200, readyz 503), prints a new token once,
    writes it 0600, and exits 0 on SIGTERM."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "waasp",
        "serve",
        "--port",
        str(port),
        env=cli_env(DEAD_DATABASE, WAASP_DATA_DIR=str(tmp_path)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        assert resp.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
                assert resp.status == 503
            async with session.post(
                f"http://127.0.0.1:{port}/api/v1/check", json={"sender_id": "x"}
            ) as resp:
                assert resp.status == 503
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    assert proc.returncode == 0
    assert "Traceback" not in err.decode()
    token_file = tmp_path / "api_token"
    token = token_file.read_text().strip()
    assert token in out.decode()
    assert token_file.stat().st_mode & 0o777 == 0o600


async def test_channels_on_the_command_line_are_canonical(app_database_url: str) -> None:
    """`--channel '*'` is refused with one line (it reads as every channel, which `list`
    shows as `*`); ` Email ` is stored and listed as `email`."""
    for args in (("add", "x", "--trust", "trusted", "--channel", "*"), ("list", "--channel", "*")):
        result = await waasp(app_database_url, *args)
        assert result.code == 2 and "--channel: '*' is not a channel name" in result.err, result
    added = await waasp(
        app_database_url, "add", "dee", "--trust", "blocked", "--channel", " Email "
    )
    assert added.code == 0 and "on channel email" in added.out
    listed = await waasp(app_database_url, "list", "--channel", "EMAIL")
    assert listed.out.splitlines()[1].split() == ["dee", "email", "blocked"]
