"""Should audit rows go through the task runtime? A measurement (issue 6).

    python -m benchmarks.audit_path [--checks 20000] [--concurrency 16]

Both variants decide the same checks against the same seeded database, on one 2-core machine:

- **sync** (what WAASP does): one statement per check finds the contact and inserts its audit
  row (``waasp.db.repositories.contacts.CHECK_SQL``).
- **runtime**: the check only SELECTs the contact; its audit row (with a client-generated id)
  joins a batch that is enqueued as one task (group commit), and the check answers only once
  that enqueue returned — otherwise a crash of the API would lose rows of answered checks. A
  worker writes each batch with one ``INSERT … SELECT FROM unnest(…) ON CONFLICT (audit_id)
  DO NOTHING`` so a redelivered batch cannot double a row (the benchmark's scratch database
  gets the ``audit_id`` column and unique index this needs).

It prints checks/s on the check side, and end to end (every audit row durable in PostgreSQL),
for both. Timings belong here, not in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
import uuid
from typing import Any

import asyncpg
from yarl import URL

from benchmarks.check import KNOWN, seed
from waasp.db.migrate import migrate
from waasp.db.repositories.contacts import CHECK_SQL
from waasp.runtime import Runtime, Worker

LOOKUP_SQL = """SELECT id, trust_level, name FROM contacts
WHERE sender_id = $1 AND (channel = $2 OR channel IS NULL) ORDER BY channel NULLS LAST LIMIT 1"""
INSERT_BATCH = """INSERT INTO audit_logs (audit_id, action, sender_id, channel, contact_id)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[])
ON CONFLICT (audit_id) DO NOTHING"""


def senders(n: int) -> list[str]:
    """A 50/50 mix of known and unknown senders."""
    return [f"known-{i % KNOWN}" if i % 2 else f"stranger-{i}" for i in range(n)]


async def run_sync(pool: asyncpg.Pool, names: list[str], concurrency: int) -> float:
    """Checks/s with the audit insert in the check's own statement."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for name in names:
        queue.put_nowait(name)

    async def caller() -> None:
        async with pool.acquire() as conn:
            while not queue.empty():
                await conn.fetchrow(CHECK_SQL, queue.get_nowait(), None, None)

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return len(names) / (time.perf_counter() - start)


async def run_via_runtime(
    pool: asyncpg.Pool, runtime: Runtime, names: list[str], concurrency: int
) -> tuple[float, float]:
    """(checks/s on the check side, checks/s until every audit row is written)."""
    write_audit = runtime.tasks["bench.write_audit"]
    pending: list[tuple[list[Any], asyncio.Future[None]]] = []
    flushing: asyncio.Task[None] | None = None

    async def flush() -> None:
        while pending:
            batch, done = pending.pop(0)
            await write_audit.delay(batch)
            done.set_result(None)

    def audited(row: list[Any]) -> asyncio.Future[None]:
        nonlocal flushing
        if not pending or len(pending[-1][0]) >= 1000:
            pending.append(([], asyncio.get_running_loop().create_future()))
        pending[-1][0].append(row)
        if flushing is None or flushing.done():
            flushing = asyncio.create_task(flush())
        return pending[-1][1]

    queue: asyncio.Queue[str] = asyncio.Queue()
    for name in names:
        queue.put_nowait(name)

    async def caller() -> None:
        async with pool.acquire() as conn:
            while not queue.empty():
                sender = queue.get_nowait()
                row = await conn.fetchrow(LOOKUP_SQL, sender, None)
                action = "allowed" if row else "blocked"
                contact = row["id"] if row else None
                # The answer waits until its audit row is durably enqueued (group commit).
                await audited([str(uuid.uuid4()), action, sender, None, contact])

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    check_side = len(names) / (time.perf_counter() - start)
    await Worker(runtime, ["default"], 4, burst=True).run()
    return check_side, len(names) / (time.perf_counter() - start)


def build_runtime(url: str, pool: asyncpg.Pool) -> Runtime:
    """A runtime with the batch-writing task."""
    runtime = Runtime("bench", broker_url=url, key_prefix=f"audit{secrets.token_hex(4)}")

    @runtime.task(name="bench.write_audit")
    async def write_audit(rows: list[list[Any]]) -> int:
        """Write one batch of audit rows; a row already written (redelivery) is skipped."""
        columns = list(zip(*rows, strict=True))
        async with pool.acquire() as conn:
            status = await conn.execute(INSERT_BATCH, *columns)
        return int(status.rpartition(" ")[2])

    return runtime


async def main_async(args: argparse.Namespace) -> None:
    name = f"waasp_auditbench_{secrets.token_hex(4)}"
    dsn = str(URL(args.database_url).with_path("/" + name))
    admin = await asyncpg.connect(args.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await migrate(dsn)
        await seed(dsn)
        setup = await asyncpg.connect(dsn)
        await setup.execute("ALTER TABLE audit_logs ADD COLUMN audit_id uuid UNIQUE")
        await setup.close()
        pool = await asyncpg.create_pool(dsn, min_size=args.concurrency, max_size=args.concurrency)
        names = senders(args.checks)
        sync_rate = await run_sync(pool, names, args.concurrency)
        runtime = build_runtime(args.redis_url, pool)
        check_side, end_to_end = await run_via_runtime(pool, runtime, names, args.concurrency)
        rows = await pool.fetchval("SELECT count(*) FROM audit_logs")
        async for key in runtime.broker.client.scan_iter(match=f"{runtime.conf.key_prefix}:*"):
            await runtime.broker.client.delete(key)
        await runtime.close()
        await pool.close()
        print(
            "| variant | checks/s on the check side | checks/s until every audit row is written |"
        )
        print("| --- | ---: | ---: |")
        print(f"| sync (one statement per check) | {sync_rate:,.0f} | {sync_rate:,.0f} |")
        print(
            f"| through the runtime (SELECT, group-committed enqueue, batched upsert) | "
            f"{check_side:,.0f} | "
            f"{end_to_end:,.0f} |"
        )
        print(f"\naudit rows written: {rows:,} (expected {2 * args.checks:,})")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
