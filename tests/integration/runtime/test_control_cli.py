"""``python -m waasp.runtime control revoke ID [--terminate]``: the revoke from a shell."""

from __future__ import annotations

import asyncio

import orjson

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import APP, run_cli
from waasp.runtime import REVOKED, Runtime


async def test_control_revoke_from_the_command_line(
    runtime: Runtime, cli_env: dict[str, str]
) -> None:
    """A queued task revoked from the shell ends REVOKED; the JSON report says whether the id
    had a record; an id never seen is remembered, and the text output says so; a bad id is
    one line on stderr and exit 1."""
    result = await apps.ping.delay("cli")
    done = await asyncio.to_thread(
        run_cli, cli_env, "control", "revoke", result.id, "--terminate", "--json", "-A", APP
    )
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    assert report["id"] == result.id and report["terminate"] is True
    assert report["known"] is False and report["revoked"] is True
    assert await result.state() == REVOKED

    unseen = await asyncio.to_thread(run_cli, cli_env, "control", "revoke", "never-sent", "-A", APP)
    assert unseen.returncode == 0, unseen.stderr
    assert unseen.stdout.startswith("revoked never-sent: no record of this task")
    assert "never sent" in unseen.stdout

    bad = await asyncio.to_thread(run_cli, cli_env, "control", "revoke", "a\tb", "-A", APP)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "error: invalid task id 'a\\tb': use 1-255 printable characters"
    ]
    assert "Traceback" not in bad.stderr
