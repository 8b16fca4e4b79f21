"""Benchmark POST /api/v1/check against a minimal aiohttp + asyncpg endpoint doing the same work.

    python -m benchmarks.check [--duration 8] [--rounds 3] [--connections 16,64]

The servers run as subprocesses against one seeded scratch database: ``waasp serve`` in one
process, ``waasp serve --processes 2``, and the minimal endpoint (one process). The load
comes from another process (wrk when installed, else this module's asyncio load generator).
Senders alternate known/unknown 50/50. Each (connections, server) pair runs ``--rounds``
times, interleaved; the table gives the median round's req/s and every round's p50 and p99.
The minimal endpoint does what a straightforward handler would: request.json(), one SELECT,
one audit INSERT, json_response.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import orjson
from aiohttp import web
from redis.asyncio import Redis
from yarl import URL

from waasp.db.migrate import migrate
from waasp.logging import configure_logging

REPO = Path(__file__).resolve().parents[1]
KNOWN = 10_000
CHANNEL = "whatsapp"
POOL_SIZE = 10  # the same for both servers (waasp.db.DEFAULT_POOL_SIZE)

MINIMAL_SELECT = """SELECT id, trust_level, name FROM contacts
WHERE sender_id = $1 AND (channel = $2 OR channel IS NULL)
ORDER BY channel NULLS LAST LIMIT 1"""
MINIMAL_INSERT = """INSERT INTO audit_logs
(action, sender_id, channel, contact_id, message_preview, reason) VALUES ($1, $2, $3, $4, $5, $6)"""


def bodies(count: int = 2000) -> list[bytes]:
    """Request bodies alternating a known and an unknown sender."""
    out = []
    for i in range(count // 2):
        out.append(orjson.dumps({"sender_id": f"known-{i * 7 % KNOWN}", "channel": CHANNEL}))
        out.append(orjson.dumps({"sender_id": f"unknown-{i}", "channel": CHANNEL}))
    return out


# ---------------------------------------------------------------- the minimal endpoint


def run_minimal(port: int, dsn: str) -> None:
    """Serve the minimal check endpoint (a subprocess role)."""

    async def make_app() -> web.Application:
        pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE)

        async def check(request: web.Request) -> web.Response:
            body = await request.json()
            sender_id, channel = body["sender_id"], body.get("channel")
            row = await pool.fetchrow(MINIMAL_SELECT, sender_id, channel)
            trust = row["trust_level"] if row else None
            allowed = trust in ("sovereign", "trusted", "limited")
            action = "limited" if trust == "limited" else "allowed" if allowed else "blocked"
            reason = f"{trust} contact" if trust else "unknown sender"
            await pool.execute(
                MINIMAL_INSERT,
                action,
                sender_id,
                channel,
                row["id"] if row else None,
                body.get("message_preview"),
                reason,
            )
            name = row["name"] if row else None
            return web.json_response(
                {"allowed": allowed, "trust": trust, "name": name, "reason": reason}
            )

        async def healthz(_request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        app = web.Application()
        app.router.add_post("/api/v1/check", check)
        app.router.add_get("/healthz", healthz)
        return app

    web.run_app(make_app(), host="127.0.0.1", port=port, access_log=None, print=None)


# ---------------------------------------------------------------- load generators


@dataclass(frozen=True, slots=True)
class Measurement:
    """What one load run saw."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


WRK_SCRIPT = """
local bodies = {%(bodies)s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/api/v1/check", {["Content-Type"] = "application/json"},
                    bodies[(n %% #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "\\nRESULT {\\"requests\\":%%d,\\"duration_us\\":%%d,\\"p50_us\\":%%d,\\"p99_us\\":%%d," ..
    "\\"errors\\":%%d}\\n", summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout + e.status))
end
"""


async def load_wrk(url: str, connections: int, seconds: float) -> Measurement:
    """Drive load with wrk (2 threads) and read its Lua summary."""
    lua_bodies = ", ".join("'" + b.decode() + "'" for b in bodies())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"bodies": lua_bodies})
    try:
        proc = await asyncio.create_subprocess_exec(
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            script.name,
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
    finally:
        os.unlink(script.name)
    line = next((ln for ln in out.decode().splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {err.decode()}")
    data = orjson.loads(line.removeprefix("RESULT "))
    return Measurement(
        data["requests"],
        data["duration_us"] / 1e6,
        data["p50_us"] / 1e3,
        data["p99_us"] / 1e3,
        data["errors"],
    )


async def load_python(url: str, connections: int, seconds: float) -> Measurement:
    """Drive load from this process with aiohttp (one keep-alive connection per worker)."""
    payloads = bodies()
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(offset: int) -> None:
            nonlocal errors
            n = offset
            while time.perf_counter() < deadline:
                n += 1
                started = time.perf_counter()
                async with session.post(
                    url,
                    data=payloads[n % len(payloads)],
                    headers={"Content-Type": "application/json"},
                ) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker(i * 97) for i in range(connections)))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return Measurement(len(latencies), elapsed, cuts[49] * 1e3, cuts[98] * 1e3, errors)


def run_load(url: str, connections: int, seconds: float) -> None:
    """The load-generator subprocess role: print one JSON measurement."""
    m = asyncio.run(load_python(url, connections, seconds))
    print(
        orjson.dumps(
            {
                "requests": m.requests,
                "seconds": m.seconds,
                "p50_ms": m.p50_ms,
                "p99_ms": m.p99_ms,
                "errors": m.errors,
            }
        ).decode()
    )


async def measure(url: str, connections: int, seconds: float, tool: str) -> Measurement:
    """One load run against ``url`` from another process."""
    if tool == "wrk":
        return await load_wrk(url, connections, seconds)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.check",
        "load",
        "--url",
        url,
        "--connections",
        str(connections),
        "--duration",
        str(seconds),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    data = orjson.loads(out)
    return Measurement(
        data["requests"], data["seconds"], data["p50_ms"], data["p99_ms"], data["errors"]
    )


# ---------------------------------------------------------------- orchestration


async def seed(dsn: str) -> None:
    """Fill contacts: global rows for every known sender, channel rows for a tenth of them."""
    conn = await asyncpg.connect(dsn)
    try:
        levels = ["trusted", "sovereign", "limited", "blocked"]
        await conn.copy_records_to_table(
            "contacts",
            records=[(f"known-{i}", None, levels[i % 4], f"Contact {i}") for i in range(KNOWN)]
            + [(f"known-{i}", CHANNEL, "trusted", None) for i in range(0, KNOWN, 10)],
            columns=["sender_id", "channel", "trust_level", "name"],
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def start(args: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdout=asyncio.subprocess.DEVNULL,
    )


async def wait_ready(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} never became ready")


TARGETS = ("waasp", "waasp x2", "minimal")


def table(results: dict[tuple[int, str], list[Measurement]]) -> str:
    """The Markdown table: the median round's req/s and its ratio to the minimal endpoint,
    and every round's p50 and p99 (milliseconds)."""
    lines = [
        "| connections | server | req/s (median round) | vs minimal | p50 ms per round "
        "| p99 ms per round | worst p99 vs minimal |",
        "| ---: | --- | ---: | ---: | --- | --- | ---: |",
    ]
    for conns in sorted({c for c, _ in results}):
        base = results[conns, "minimal"]
        base_rps = median_round(base).rps
        base_p99 = max(m.p99_ms for m in base)
        for target in TARGETS:
            rounds = results[conns, target]
            rps = median_round(rounds).rps
            p50s = " / ".join(f"{m.p50_ms:.2f}" for m in rounds)
            p99s = " / ".join(f"{m.p99_ms:.2f}" for m in rounds)
            worst = max(m.p99_ms for m in rounds) / base_p99
            lines.append(
                f"| {conns} | {target} | {rps:,.0f} | {rps / base_rps:.2f} | {p50s} | {p99s} "
                f"| {worst:.2f} |"
            )
    return "\n".join(lines)


def median_round(rounds: list[Measurement]) -> Measurement:
    """The round with the median req/s."""
    return sorted(rounds, key=lambda r: r.rps)[len(rounds) // 2]


async def run_rounds(
    options: argparse.Namespace, ports: dict[str, int], conns: int, tool: str
) -> dict[str, list[Measurement]]:
    """Warm every server up, run interleaved rounds, return each server's rounds."""
    runs: dict[str, list[Measurement]] = {target: [] for target in ports}
    for target in runs:  # warm the pools and the plan caches
        await measure(f"http://127.0.0.1:{ports[target]}/api/v1/check", conns, options.warmup, tool)
    for round_no in range(options.rounds):
        order = list(runs)[round_no % len(runs) :] + list(runs)[: round_no % len(runs)]
        for target in order:
            url = f"http://127.0.0.1:{ports[target]}/api/v1/check"
            m = await measure(url, conns, options.duration, tool)
            if m.errors:
                raise RuntimeError(f"{target} answered {m.errors} errors")
            print(
                f"  {conns:>3} conns {target:>8}: {m.rps:8,.0f} req/s "
                f"p50 {m.p50_ms:6.2f} ms p99 {m.p99_ms:6.2f} ms",
                file=sys.stderr,
            )
            runs[target].append(m)
    return runs


WAASP_ENV = {
    "WAASP_API_TOKEN": "benchmark-token",
    # Every request comes from one address: the per-address limit is lifted, so the figure
    # is the check's (its Redis round trip still runs).
    "WAASP_CHECK_RATE": "1000000000",
    "WAASP_CHECK_BURST": "1000000000",
    "WAASP_LOG_LEVEL": "warning",
    "WAASP_LOG_FORMAT": "json",
}


async def benchmark(options: argparse.Namespace) -> str:
    """Run the whole comparison; return the Markdown table."""
    maintenance = options.database_url
    name = f"waasp_bench_{secrets.token_hex(4)}"
    prefix = f"checkbench{secrets.token_hex(4)}"
    dsn = str(URL(maintenance).with_path("/" + name))
    admin = await asyncpg.connect(maintenance)
    await admin.execute(f'CREATE DATABASE "{name}"')
    procs: list[asyncio.subprocess.Process] = []
    try:
        await migrate(dsn)
        await seed(dsn)
        ports = {target: free_port() for target in TARGETS}
        env = {
            **WAASP_ENV,
            "WAASP_DATABASE_URL": dsn,
            # Blocked checks enqueue notifications: under a scratch prefix, deleted after.
            "WAASP_KEY_PREFIX": prefix,
            "WAASP_REDIS_URL": options.redis_url,
        }
        for target, processes in (("waasp", 1), ("waasp x2", 2)):
            serve = ["-m", "waasp", "serve", "--port", str(ports[target])]
            procs.append(await start([*serve, "--processes", str(processes)], env))
        procs.append(
            await start(
                [
                    "-m",
                    "benchmarks.check",
                    "minimal",
                    "--port",
                    str(ports["minimal"]),
                    "--dsn",
                    dsn,
                ],
                {},
            )
        )
        await wait_ready(f"http://127.0.0.1:{ports['waasp']}/readyz")
        await wait_ready(f"http://127.0.0.1:{ports['waasp x2']}/readyz")
        await wait_ready(f"http://127.0.0.1:{ports['minimal']}/healthz")
        tool = options.loadgen
        if tool == "auto":
            tool = "wrk" if shutil.which("wrk") else "python"
        print(
            f"load generator: {tool}; {options.rounds} rounds of {options.duration}s",
            file=sys.stderr,
        )
        results: dict[tuple[int, str], list[Measurement]] = {}
        for conns in options.connections:
            for target, rounds in (await run_rounds(options, ports, conns, tool)).items():
                results[conns, target] = rounds
        return table(results)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
            await proc.wait()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        await delete_keys(options.redis_url, prefix)


async def delete_keys(url: str, prefix: str) -> None:
    """Delete the notifications the run enqueued (SCAN + DEL, never FLUSHALL)."""
    client = Redis.from_url(url)
    try:
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the benchmark, or one of its subprocess roles."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="role")
    minimal = sub.add_parser("minimal", help="(internal) serve the minimal endpoint")
    minimal.add_argument("--port", type=int, required=True)
    minimal.add_argument("--dsn", required=True)
    load = sub.add_parser("load", help="(internal) the asyncio load generator")
    load.add_argument("--url", required=True)
    load.add_argument("--connections", type=int, required=True)
    load.add_argument("--duration", type=float, required=True)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "WAASP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="maintenance database; a scratch database is created beside it and dropped",
    )
    parser.add_argument(
        "--connections", type=lambda s: [int(c) for c in s.split(",")], default=[16, 64]
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("WAASP_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="the broker `waasp serve` enqueues blocked-sender notifications on",
    )
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per round")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    options = parser.parse_args(argv)
    if options.role == "minimal":
        run_minimal(options.port, options.dsn)
        return 0
    if options.role == "load":
        run_load(options.url, options.connections, options.duration)
        return 0
    configure_logging("console", "warning")  # stdout is the table (the harness keeps it)
    print(asyncio.run(benchmark(options)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
