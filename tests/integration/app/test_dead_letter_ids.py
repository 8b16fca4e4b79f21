"""Malformed dead-letter ids: a 400 naming dead_id from the API (over a real socket), one
error line from `python -m waasp.runtime dlq` — never a 500 or a traceback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from tests.integration.app.conftest import AUTH, ServeFactory
from waasp.runtime import Runtime

ROOT = Path(__file__).resolve().parents[3]
MALFORMED = ["default:99999999999999999999999-0", "default:\u0665-0", "default:1_0-0"]


@pytest.mark.parametrize("dead_id", MALFORMED)
async def test_api_answers_400_for_a_malformed_dead_letter_id(
    serve: ServeFactory, runtime: Runtime, dead_id: str
) -> None:
    """Replaying or deleting a malformed id is a 400 naming dead_id."""
    served = await serve(runtime=runtime)
    path = f"{served.url}/api/v1/dlq/{quote(dead_id, safe=':')}"
    async with aiohttp.ClientSession(headers=AUTH) as session:
        for method, url in (("POST", f"{path}/replay"), ("DELETE", path)):
            async with session.request(method, url) as response:
                assert response.status == 400, await response.text()
                assert (await response.json())["details"]["field"] == "dead_id"


@pytest.mark.parametrize("dead_id", MALFORMED)
async def test_cli_prints_one_line_for_a_malformed_dead_letter_id(
    runtime: Runtime, redis_url: str, dead_id: str
) -> None:
    """`dlq replay ID` with a malformed id exits 1 with one `error:` line, no traceback."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "WAASP_REDIS_URL": redis_url,
        "WAASP_KEY_PREFIX": runtime.conf.key_prefix,
    }
    command = [sys.executable, "-m", "waasp.runtime", "dlq", "-A", "waasp.tasks:runtime"]
    result = await asyncio.to_thread(
        subprocess.run,
        [*command, "replay", dead_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: dead letter id {dead_id!r} has no valid entry id"
    ]
