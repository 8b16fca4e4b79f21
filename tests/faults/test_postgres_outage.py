"""Guarantee 9 and the fail-closed rule on the API side: PostgreSQL stopped and started under
a stream of checks."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.faults.conftest import Record
from tests.integration.app.conftest import TOKEN, open_client
from waasp.api import create_app
from waasp.db.migrate import migrate
from waasp.embedded import EmbeddedPostgres
from waasp.settings import Settings

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(120)]

SENDERS = {"friend": True, "foe": False, "stranger": False}  # sender -> may pass
CALLERS = 4


@dataclass(frozen=True, slots=True)
class Answer:
    """One check as the caller saw it."""

    preview: str
    sender: str
    status: int
    allowed: object
    sent: float
    answered: float


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of the test's own, to stop and start."""
    server = EmbeddedPostgres(tmp_path)
    server.start()
    yield server
    server.stop()


async def test_checks_answer_503_while_postgres_is_down_and_recover_alone(
    postgres: EmbeddedPostgres, record: Record
) -> None:
    """PostgreSQL stopped for 2 s under 4 callers checking without pause: while it is down
    every check is 503 (never allowed:true); the same app answers 200 again once it is back;
    every check answered 200 has exactly one audit row."""
    await migrate(postgres.url)
    conn = await asyncpg.connect(postgres.url)
    try:
        await conn.execute(
            "INSERT INTO contacts (sender_id, trust_level) VALUES ('friend', 'trusted'),"
            " ('foe', 'blocked')"
        )
    finally:
        await conn.close()
    client = await open_client(
        create_app(Settings(database_url=postgres.url, api_token=TOKEN, log_format="json"))
    )
    answers: list[Answer] = []
    numbers = itertools.count()
    stop = asyncio.Event()

    async def caller(offset: int) -> None:
        senders = itertools.cycle(list(SENDERS)[offset:] + list(SENDERS)[:offset])
        while not stop.is_set():
            preview, sender = f"req-{next(numbers)}", next(senders)
            sent = time.monotonic()
            resp = await client.post(
                "/api/v1/check", json={"sender_id": sender, "message_preview": preview}
            )
            body = await resp.json()
            answers.append(
                Answer(preview, sender, resp.status, body.get("allowed"), sent, time.monotonic())
            )
            await asyncio.sleep(0.005)

    try:
        callers = [asyncio.create_task(caller(i % len(SENDERS))) for i in range(CALLERS)]
        await asyncio.sleep(1.5)
        await asyncio.to_thread(postgres.stop)
        down_from = time.monotonic()
        await asyncio.sleep(2.0)
        down_until = time.monotonic()
        await asyncio.to_thread(postgres.start)
        up_at = time.monotonic()
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*callers)
    finally:
        await client.close()

    conn = await asyncpg.connect(postgres.url)
    try:
        rows = await conn.fetch(
            "SELECT message_preview, count(*) AS n FROM audit_logs GROUP BY message_preview"
        )
    finally:
        await conn.close()
    audited = {r["message_preview"]: r["n"] for r in rows}
    ok = [a for a in answers if a.status == 200]
    failed = [a for a in answers if a.status != 200]
    while_down = [a for a in answers if a.sent >= down_from and a.answered <= down_until]
    recovered = [a.answered - up_at for a in ok if a.sent >= up_at]
    missing = [a.preview for a in ok if audited.get(a.preview, 0) != 1]
    stray = [a.preview for a in failed if audited.get(a.preview, 0) > 1]
    record(
        checks=len(answers),
        answered_200=len(ok),
        answered_503=len(failed),
        checks_while_down=len(while_down),
        allowed_true_while_down=sum(a.allowed is True for a in while_down),
        recovered_after_seconds=round(min(recovered), 3) if recovered else None,
        audit_rows=sum(audited.values()),
        audit_rows_missing=len(missing),
        audit_rows_doubled=len(stray) + sum(v > 1 for v in audited.values()),
        audit_rows_of_503_checks=sum(audited.get(a.preview, 0) for a in failed),
        postgres_stops=1,
        api_restarts=0,
    )
    assert {a.status for a in answers} <= {200, 503}
    assert while_down and all(a.status == 503 for a in while_down)
    assert all(a.allowed is None for a in failed), "a 503 never carries a decision"
    assert all(a.allowed is SENDERS[a.sender] for a in ok)
    assert recovered, "checks did not recover without a restart"
    assert missing == []
    assert all(v == 1 for v in audited.values())
