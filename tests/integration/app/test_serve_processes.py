"""``waasp serve --processes N``: N processes answer on one port, their metrics add up, and
the parent stops them all (on a signal, or when one of them dies)."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.app.conftest import delete_prefix
from tests.integration.app.test_cli import cli_env, waasp
from tests.servers import free_port
from waasp.embedded._process import pid_alive
from waasp.runtime import Runtime

TOKEN = "processes-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
START_TIMEOUT = 60.0


@dataclass
class Served:
    proc: asyncio.subprocess.Process
    url: str
    metrics_dir: Path


@asynccontextmanager
async def serve_processes(
    database_url: str, tmp_path: Path, redis_url: str, prefix: str, count: int = 2
) -> AsyncIterator[Served]:
    """Run ``waasp serve --processes count``; wait for its one "WAASP API on" line."""
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    serve = ["serve", "--port", str(port), "--processes", str(count)]
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "waasp", *serve],
        env=cli_env(
            database_url,
            WAASP_DATA_DIR=str(tmp_path),
            WAASP_API_TOKEN=TOKEN,
            WAASP_REDIS_URL=redis_url,
            WAASP_KEY_PREFIX=prefix,
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        ),
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,  # a process group of its own, as a terminal gives it
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
        assert line.decode().startswith("WAASP API on "), line
        assert f"in {count} processes" in line.decode()
        yield Served(proc, f"http://127.0.0.1:{port}", metrics_dir)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), START_TIMEOUT)


def counts_by_pid(metrics_dir: Path, name: str) -> dict[int, float]:
    """Each process's own total of counter ``name``, read from its file in the directory."""
    found: dict[int, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = int(path.stem.removeprefix("counter_"))
        merged = MultiProcessCollector.merge([str(path)], accumulate=True)  # type: ignore[no-untyped-call]
        for family in merged:
            for sample in family.samples:
                if sample.name == name:
                    found[pid] = found.get(pid, 0.0) + sample.value
    return found


async def scraped(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """/metrics as {sample name with labels: value}."""
    async with session.get(f"{url}/metrics", headers=AUTH) as resp:
        assert resp.status == 200
        text = await resp.text()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}"] = sample.value
    return out


async def delete_keys(redis_url: str, prefix: str) -> None:
    runtime = Runtime("waasp", broker_url=redis_url, key_prefix=prefix, environ={})
    try:
        await delete_prefix(runtime)
    finally:
        await runtime.close()


@pytest.mark.slow
async def test_two_processes_answer_on_one_port_and_metrics_add_up(
    app_database_url: str, pg: asyncpg.Connection, tmp_path: Path, redis_url: str
) -> None:
    """Checks over fresh connections reach both processes; each is audited once; /metrics,
    from whichever process answers, counts them all; SIGTERM stops every process."""
    prefix = f"test{secrets.token_hex(5)}"
    checks = 60
    try:
        async with serve_processes(app_database_url, tmp_path, redis_url, prefix) as served:
            # A fresh connection each time: the kernel picks a listener per connection.
            connector = aiohttp.TCPConnector(force_close=True)
            async with aiohttp.ClientSession(connector=connector) as session:
                for i in range(checks):
                    async with session.post(
                        f"{served.url}/api/v1/check", json={"sender_id": f"s{i}"}, headers=AUTH
                    ) as resp:
                        assert resp.status == 200
                        assert (await resp.json())["allowed"] is False
                samples = await scraped(session, served.url)
            per_pid = counts_by_pid(served.metrics_dir, "waasp_check_decisions_total")
            pids = sorted(per_pid)
        assert served.proc.returncode == 0
    finally:
        await delete_keys(redis_url, prefix)
    assert samples["waasp_api_processes{}"] == 2
    assert samples["waasp_check_decisions_total{outcome=blocked}"] == checks
    assert samples["waasp_check_latency_seconds_count{}"] == checks
    route = "method=POST,route=/api/v1/check,status=200"
    assert samples[f"waasp_http_requests_total{{{route}}}"] == checks
    # Both processes answered (2**-59 odds of one taking all 60), and the sums are theirs.
    assert len(pids) == 2 and all(per_pid[pid] > 0 for pid in pids), per_pid
    assert sum(per_pid.values()) == checks
    assert await pg.fetchval("SELECT count(*) FROM audit_logs WHERE action = 'blocked'") == checks
    assert not any(pid_alive(pid) for pid in pids)


@pytest.mark.slow
@pytest.mark.faults
async def test_a_child_that_dies_stops_the_others_and_the_parent_exits_1(
    app_database_url: str, tmp_path: Path, redis_url: str
) -> None:
    """SIGKILL one process: the parent stops the other and exits 1."""
    prefix = f"test{secrets.token_hex(5)}"
    async with serve_processes(app_database_url, tmp_path, redis_url, prefix) as served:
        pids = sorted(
            int(path.stem.rpartition("_")[2]) for path in served.metrics_dir.glob("gauge_*.db")
        )
        assert len(pids) == 2, pids
        os.kill(pids[0], signal.SIGKILL)
        assert await asyncio.wait_for(served.proc.wait(), START_TIMEOUT) == 1
    assert not pid_alive(pids[1])


async def test_bad_process_counts_are_refused(app_database_url: str) -> None:
    """0, -1 and a word are usage errors (exit 2) naming --processes."""
    for bad in ("0", "-1", "x"):
        result = await waasp(app_database_url, "serve", "--processes", bad)
        assert result.code == 2, result
        assert "--processes" in result.err and "Traceback" not in result.err


@pytest.mark.slow
@pytest.mark.faults
async def test_children_of_a_killed_parent_stop(
    app_database_url: str, tmp_path: Path, redis_url: str
) -> None:
    """SIGKILL the parent (it cannot stop its children): they notice and stop by themselves,
    leaving the port free."""
    prefix = f"test{secrets.token_hex(5)}"
    async with serve_processes(app_database_url, tmp_path, redis_url, prefix) as served:
        pids = [int(path.stem.rpartition("_")[2]) for path in served.metrics_dir.glob("gauge_*.db")]
        served.proc.kill()
        await served.proc.wait()
        for _ in range(300):  # each child looks for its parent once a second
            if not any(pid_alive(pid) for pid in pids):
                break
            await asyncio.sleep(0.1)
        assert not any(pid_alive(pid) for pid in pids), pids


@pytest.mark.slow
async def test_ctrl_c_to_the_process_group_is_a_clean_stop(
    app_database_url: str, tmp_path: Path, redis_url: str
) -> None:
    """SIGINT to the whole group (Ctrl-C in a terminal) reaches parent and children at once:
    a child stopping first is not taken for a crash, and the parent exits 0."""
    prefix = f"test{secrets.token_hex(5)}"
    async with serve_processes(app_database_url, tmp_path, redis_url, prefix) as served:
        pids = [int(path.stem.rpartition("_")[2]) for path in served.metrics_dir.glob("gauge_*.db")]
        os.killpg(served.proc.pid, signal.SIGINT)
        assert await asyncio.wait_for(served.proc.wait(), START_TIMEOUT) == 0
    assert not any(pid_alive(pid) for pid in pids), pids
