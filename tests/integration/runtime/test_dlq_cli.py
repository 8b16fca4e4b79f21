"""``python -m waasp.runtime inspect dlq`` and ``dlq replay|purge``, and the CLI's errors."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
import time
from typing import Any

import orjson
import pytest

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import (
    APP,
    ROOT,
    WorkerFactory,
    run_cli,
    runs,
    wait_settled,
    wait_until,
)
from waasp.runtime import FAILURE, Runtime, TaskFailed


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    """The one JSON document a successful ``--json`` command printed."""
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """Assert the command failed with one ``error:`` line on stderr and no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


async def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI without blocking the event loop."""
    return await asyncio.to_thread(run_cli, env, *args)


@pytest.mark.slow
async def test_dlq_inspect_replay_purge(
    runtime: Runtime, workers: WorkerFactory, cli_env: dict[str, str]
) -> None:
    """A dead-lettered task shows in ``inspect dlq --json``; ``dlq replay ID`` runs it again;
    ``purge --older-than 1h`` keeps fresh letters; ``replay --all`` and ``purge`` work."""
    workers.start()
    result = await apps.always_fails.delay("c")
    with pytest.raises(TaskFailed):
        await result.get(timeout=15)
    await wait_settled(runtime, dead=1)
    assert await runs(runtime, "fails:c") == 3

    shown = ok_json(await cli(cli_env, "inspect", "-A", APP, "dlq", "--json"))
    assert shown["total"] == 1
    (letter,) = shown["dead_letters"]
    assert letter["task_id"] == result.id
    assert letter["task"] == apps.always_fails.name
    assert letter["args"] == ["c"]
    assert letter["reason"] == "failed"
    assert "TemporaryError" in letter["error"]["traceback"]

    replayed = ok_json(await cli(cli_env, "dlq", "-A", APP, "replay", letter["id"], "--json"))
    assert replayed == {"replayed": [result.id]}

    async def failed_again() -> bool:
        return await runs(runtime, "fails:c") == 6 and await result.state() == FAILURE

    await wait_until(failed_again, timeout=15)
    await wait_settled(runtime, dead=1)
    again = ok_json(await cli(cli_env, "inspect", "-A", APP, "dlq", "--json"))
    assert again["total"] == 1
    assert again["dead_letters"][0]["replayed"] == 1
    assert again["dead_letters"][0]["id"] != letter["id"]

    kept = ok_json(await cli(cli_env, "dlq", "-A", APP, "purge", "--older-than", "1h", "--json"))
    assert kept == {"purged": 0}

    everything = ok_json(await cli(cli_env, "dlq", "-A", APP, "replay", "--all", "--json"))
    assert everything == {"replayed": [result.id]}

    async def failed_thrice() -> bool:
        return await runs(runtime, "fails:c") == 9 and await result.state() == FAILURE

    await wait_until(failed_thrice, timeout=15)
    await wait_settled(runtime, dead=1)
    assert ok_json(await cli(cli_env, "dlq", "-A", APP, "purge", "--all", "--json")) == {
        "purged": 1
    }
    assert await runtime.dlq.count() == {"default": 0}
    text = await cli(cli_env, "inspect", "-A", APP, "dlq")
    assert text.returncode == 0 and "(none)" in text.stdout


async def test_cli_errors_are_one_line(runtime: Runtime, cli_env: dict[str, str]) -> None:
    """CLI errors (unknown dead letter, bad -A, bad env, bad arguments) are one line on
    stderr and a non-zero exit, never a traceback."""
    missing = one_line_error(await cli(cli_env, "dlq", "-A", APP, "replay", "default:1-0"))
    assert "default:1-0" in missing
    one_line_error(await cli(cli_env, "dlq", "-A", APP, "replay", "not-an-id"))
    one_line_error(await cli(cli_env, "dlq", "-A", APP, "replay"))
    one_line_error(await cli(cli_env, "inspect", "-A", "no_such_module_xyz:runtime", "queues"))
    one_line_error(await cli(cli_env, "inspect", "-A", "tests.integration.runtime.apps:add", "dlq"))
    one_line_error(await cli(cli_env, "inspect", "-A", ":runtime", "queues"))
    bad_env = {**cli_env, "WAASP_VISIBILITY_TIMEOUT": "soon"}
    line = one_line_error(await cli(bad_env, "inspect", "-A", APP, "queues"))
    assert "WAASP_VISIBILITY_TIMEOUT" in line
    unreachable = {**cli_env, "WAASP_REDIS_URL": "redis://127.0.0.1:1/0"}
    one_line_error(await cli(unreachable, "inspect", "-A", APP, "queues"))
    for usage in (
        ("dlq", "-A", APP, "purge", "--older-than", "banana"),
        ("inspect", "-A", APP, "queues", "--loglevel", "loud"),
    ):
        result = await cli(cli_env, *usage)
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr


def on_a_terminal(env: dict[str, str], answer: bytes, *args: str) -> tuple[int, str]:
    """Run the CLI with a terminal as stdin and stderr; answer its question with ``answer``
    once it asks ([y/N]); return the exit code and what the terminal showed."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "waasp.runtime", *args],
            env=env,
            cwd=ROOT,
            stdin=follower,
            stdout=subprocess.DEVNULL,
            stderr=follower,
        )
    finally:
        os.close(follower)
    shown, answered = b"", False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed: the command is done
                    break
                if not chunk:
                    break
                shown += chunk
            if not answered and b"[y/N]" in shown:
                os.write(leader, answer)
                answered = True
            if not ready and proc.poll() is not None:
                break
        return proc.wait(30), shown.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)


async def test_dlq_purge_needs_a_filter_and_asks_on_a_terminal(
    runtime: Runtime, cli_env: dict[str, str]
) -> None:
    """`dlq purge` with neither --all nor a filter refuses, like `replay`; on a terminal it
    asks first and purges only on yes; --yes does not ask."""
    for i in range(2):
        await runtime.dlq.send(apps.add.name, (i, i), reason="manual")
    line = one_line_error(await cli(cli_env, "dlq", "-A", APP, "purge"))
    assert "--all" in line
    assert await runtime.dlq.count() == {"default": 2}
    purge = ("dlq", "-A", APP, "purge")
    code, shown = await asyncio.to_thread(on_a_terminal, cli_env, b"n\n", *purge, "--all")
    assert code == 1 and "(2 in all)? [y/N]" in shown and "nothing purged" in shown, shown
    assert await runtime.dlq.count() == {"default": 2}
    code, shown = await asyncio.to_thread(
        on_a_terminal, cli_env, b"y\n", *purge, "--queue", "default"
    )
    assert code == 0 and "of queue default" in shown, shown
    assert await runtime.dlq.count() == {"default": 0}
    await runtime.dlq.send(apps.add.name, (1, 2), reason="manual")
    code, shown = await asyncio.to_thread(on_a_terminal, cli_env, b"", *purge, "--all", "--yes")
    assert code == 0 and "[y/N]" not in shown, shown
    assert await runtime.dlq.count() == {"default": 0}
