"""The monitoring API: tasks, queues, workers, dead letters, schedule, events, stats."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import socket
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from tests.integration.app.conftest import AUTH, Client, ClientFactory
from waasp.runtime import Runtime, Task, Worker
from waasp.runtime.cli.commands import run_inspect
from waasp.runtime.message import DeadLetterRecord, RemoteError

GET_ROUTES = [
    "/api/v1/tasks/some-id",
    "/api/v1/queues",
    "/api/v1/workers",
    "/api/v1/dlq",
    "/api/v1/schedule",
    "/api/v1/events",
    "/api/v1/failures",
    "/api/v1/stats",
]
ROUTES = [
    *(("GET", path) for path in GET_ROUTES),
    ("POST", "/api/v1/dlq/default:1-0/replay"),
    ("DELETE", "/api/v1/dlq/default:1-0"),
    ("POST", "/api/v1/tasks/some-id/revoke"),
]


class Tasks:
    """Tasks registered on the test runtime."""

    def __init__(self, runtime: Runtime) -> None:
        @runtime.task(name="tests.monitor.ok")
        async def ok(x: int = 0) -> int:
            return x * 2

        @runtime.task(name="tests.monitor.boom")
        async def boom() -> None:
            raise ValueError("kaput")

        self.ok: Task = ok
        self.boom: Task = boom


@pytest.fixture
def tasks(runtime: Runtime) -> Tasks:
    """An ``ok`` task and a ``boom`` task that always fails."""
    return Tasks(runtime)


async def burst(runtime: Runtime) -> Worker:
    """Run a worker on the default queue until it is empty."""
    worker = Worker(runtime, ["default"], 4, burst=True)
    await worker.run()
    return worker


async def get_json(client: Client, path: str, status: int = 200) -> Any:
    """GET ``path`` with the token, check the status, return the JSON body."""
    response = await client.get(path, headers=AUTH)
    assert response.status == status, await response.text()
    return await response.json()


def is_iso_utc(value: object) -> bool:
    """Tell whether ``value`` is an ISO 8601 time string in UTC."""
    if not isinstance(value, str):
        return False
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.utcoffset() == dt.timedelta(0)


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_routes_need_the_token(monitor_client: Client, method: str, path: str) -> None:
    """Every monitoring route answers 401 without a token and 403 with a wrong one."""
    response = await monitor_client.request(method, path)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = {"Authorization": "Bearer not-the-token"}
    assert (await monitor_client.request(method, path, headers=wrong)).status == 403


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_routes_without_runtime_answer_503(client: Client, method: str, path: str) -> None:
    """An app built without a runtime answers 503 "task runtime not configured"."""
    response = await client.request(method, path, headers=AUTH)
    assert response.status == 503
    assert (await response.json())["error"] == "task runtime not configured"


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_routes_answer_503_when_redis_is_down(
    make_client: ClientFactory, method: str, path: str
) -> None:
    """With Redis unreachable every route is a 503 saying so, with no Redis error text."""
    down = Runtime("waasp", broker_url=f"redis://127.0.0.1:{closed_port()}/0", environ={})
    try:
        client = await make_client(runtime=down)
        response = await client.request(method, path, headers=AUTH)
        assert response.status == 503
        body = await response.json()
        assert body["error"] == "redis unavailable"  # no driver text reaches the client
        assert "Errno" not in body["error"] and "refused" not in body["error"].lower()
    finally:
        await down.close()


async def test_task_record(monitor_client: Client, runtime: Runtime, tasks: Tasks) -> None:
    """A finished task's record is served; an unknown id is PENDING; a huge id is a 400."""
    result = await tasks.ok.delay(21)
    await burst(runtime)
    body = await get_json(monitor_client, f"/api/v1/tasks/{result.id}")
    assert body["id"] == result.id
    assert (body["name"], body["state"], body["result"]) == ("tests.monitor.ok", "SUCCESS", 42)
    assert body["error"] is None and body["queue"] == "default" and body["retries"] == 0
    unknown = await get_json(monitor_client, "/api/v1/tasks/no-such-task")
    assert unknown["state"] == "PENDING"
    too_long = await get_json(monitor_client, "/api/v1/tasks/" + "x" * 300, status=400)
    assert too_long["details"]["field"] == "task_id"


async def test_failed_task_record_has_the_traceback(
    monitor_client: Client, runtime: Runtime, tasks: Tasks
) -> None:
    """A failed task's record carries its error and traceback."""
    result = await tasks.boom.delay()
    await burst(runtime)
    body = await get_json(monitor_client, f"/api/v1/tasks/{result.id}")
    assert body["state"] == "FAILURE"
    assert body["error"]["type"] == "ValueError" and body["error"]["message"] == "kaput"
    assert "Traceback" in body["error"]["traceback"]


async def test_queue_counts(monitor_client: Client, runtime: Runtime, tasks: Tasks) -> None:
    """Per queue: waiting, in flight, delayed and dead counts, and the oldest waiting age."""
    assert (await get_json(monitor_client, "/api/v1/queues"))["queues"] == []
    await runtime.send_many([tasks.ok.s(i) for i in range(4)])
    await tasks.ok.apply_async((1,), countdown=600)
    await tasks.ok.apply_async((2,), countdown=600, queue="other")
    await runtime.dlq.send("tests.monitor.ok", (3,), reason="manual")
    await runtime.broker.ensure_group("default")
    held = await runtime.broker.read(["default"], "test-consumer", 1, None)
    assert len(held) == 1
    body = await get_json(monitor_client, "/api/v1/queues/")  # trailing slash: same resource
    queues = {q["name"]: q for q in body["queues"]}
    assert set(queues) == {"default", "other"}
    default = queues["default"]
    assert (default["waiting"], default["in_flight"], default["delayed"], default["dead"]) == (
        3,
        1,
        1,
        1,
    )
    assert default["oldest_waiting_age"] is not None and default["oldest_waiting_age"] >= 0
    assert (queues["other"]["waiting"], queues["other"]["delayed"]) == (0, 1)


@contextlib.asynccontextmanager
async def running_worker(runtime: Runtime, name: str) -> AsyncIterator[Worker]:
    """A worker consuming the default queue for the duration of the block."""
    worker = Worker(runtime, ["default"], 3, name=name)
    task = asyncio.create_task(worker.run())
    try:
        for _ in range(100):
            if await runtime.broker.client.zscore(runtime.keys.workers, name) is not None:
                break
            await asyncio.sleep(0.05)
        yield worker
    finally:
        worker.stop()
        await task


async def test_workers(monitor_client: Client, runtime: Runtime, tasks: Tasks) -> None:
    """Live workers are listed with queues, concurrency, in flight, heartbeat, done, failed."""
    async with running_worker(runtime, "monitor-test-worker") as worker:
        await (await tasks.ok.delay(1)).get(timeout=10)
        for _ in range(50):  # the result is stored just before the entry is acknowledged
            await worker.heartbeat.beat()
            body = await get_json(monitor_client, "/api/v1/workers")
            (found,) = body["workers"]
            if found["in_flight"] == 0:
                break
            await asyncio.sleep(0.02)
        assert found["name"] == "monitor-test-worker"
        assert found["queues"] == ["default"] and found["concurrency"] == 3
        assert found["in_flight"] == 0 and found["done"] == 1 and found["failed"] == 0
        assert is_iso_utc(found["last_heartbeat"]) and found["stalled"] is False
    assert (await get_json(monitor_client, "/api/v1/workers"))["workers"] == []


async def test_dlq_paging(monitor_client: Client, runtime: Runtime) -> None:
    """The DLQ is paged newest first with the total; bad limit or offset is a 400."""
    sent = [await runtime.dlq.send("tests.monitor.ok", (i,), reason="manual") for i in range(5)]
    pages = [
        await get_json(monitor_client, f"/api/v1/dlq?limit=2&offset={offset}")
        for offset in (0, 2, 4)
    ]
    assert [p["total"] for p in pages] == [5, 5, 5]
    assert [(p["limit"], p["offset"]) for p in pages] == [(2, 0), (2, 2), (2, 4)]
    ids = [letter["id"] for page in pages for letter in page["dead_letters"]]
    assert ids == list(reversed(sent))
    letter = pages[0]["dead_letters"][0]
    assert (letter["task"], letter["args"], letter["reason"]) == ("tests.monitor.ok", [4], "manual")
    only = await get_json(monitor_client, "/api/v1/dlq?queue=default&limit=1")
    assert only["total"] == 5 and len(only["dead_letters"]) == 1
    for query in ("limit=0", "limit=1001", "limit=x", "offset=-1", "offset=100001"):
        body = await get_json(monitor_client, f"/api/v1/dlq?{query}", status=400)
        assert body["details"]["field"] == query.partition("=")[0]
    bad_queue = await get_json(monitor_client, "/api/v1/dlq?queue=no%20such", status=400)
    assert bad_queue["details"]["field"] == "queue"


async def test_dlq_replay_and_delete(monitor_client: Client, runtime: Runtime) -> None:
    """Replay puts a dead letter back in its queue; delete removes one; unknown ids are 404,
    malformed ones 400."""
    first = await runtime.dlq.send("tests.monitor.ok", (1,), reason="manual")
    second = await runtime.dlq.send("tests.monitor.ok", (2,), reason="manual")
    response = await monitor_client.post(f"/api/v1/dlq/{first}/replay", headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert body["replayed"] == first and body["task_id"]
    queues = {q["name"]: q for q in (await get_json(monitor_client, "/api/v1/queues"))["queues"]}
    assert (queues["default"]["waiting"], queues["default"]["dead"]) == (1, 1)
    again = await monitor_client.post(f"/api/v1/dlq/{first}/replay", headers=AUTH)
    assert again.status == 404
    deleted = await monitor_client.delete(f"/api/v1/dlq/{second}", headers=AUTH)
    assert deleted.status == 204
    assert (await monitor_client.delete(f"/api/v1/dlq/{second}", headers=AUTH)).status == 404
    assert (await get_json(monitor_client, "/api/v1/dlq"))["total"] == 0
    malformed = await monitor_client.delete("/api/v1/dlq/not-an-id", headers=AUTH)
    assert malformed.status == 400


async def test_replaying_an_undecodable_letter_is_a_409(
    monitor_client: Client, runtime: Runtime
) -> None:
    """A dead letter whose message cannot be decoded cannot be replayed: 409, and it stays."""
    letter = DeadLetterRecord("undecodable", b"\xff not json", RemoteError("DecodeError", "bad"))
    await runtime.broker.register_queues(["default"])
    dead_id = await runtime.broker.dead.add("default", letter)
    response = await monitor_client.post(f"/api/v1/dlq/{dead_id}/replay", headers=AUTH)
    assert response.status == 409
    assert "decodable" in (await response.json())["error"]
    page = await get_json(monitor_client, "/api/v1/dlq")
    assert page["dead_letters"][0]["raw_message"] is not None


async def test_schedule_shape(monitor_client: Client, runtime: Runtime) -> None:
    """The schedule lists beat entries with next and last runs (empty without a scheduler)."""
    runtime.conf.update(
        beat_schedule={"tick": {"task": "tests.monitor.ok", "schedule": 60.0, "args": (1,)}}
    )
    body = await get_json(monitor_client, "/api/v1/schedule")
    assert isinstance(body["schedule"], list)
    for entry in body["schedule"]:
        assert {"name", "task", "schedule", "queue", "next_run", "last_run"} <= set(entry)
    assert [e["name"] for e in body["schedule"]] in ([], ["tick"])


async def test_events_failures_and_stats(
    monitor_client: Client, runtime: Runtime, tasks: Tasks
) -> None:
    """Finished tasks show as events, failures with tracebacks, counters and throughput."""
    await runtime.send_many([tasks.ok.s(i) for i in range(3)])
    failed = await tasks.boom.delay()
    await runtime.send_task("tests.monitor.unknown")
    await burst(runtime)
    events = (await get_json(monitor_client, "/api/v1/events?limit=10"))["events"]
    kinds = sorted(e["event"] for e in events)
    assert kinds == ["dead_lettered", "failed", "succeeded", "succeeded", "succeeded"]
    assert all(is_iso_utc(e["time"]) and e["queue"] == "default" for e in events)
    assert len((await get_json(monitor_client, "/api/v1/events?limit=2"))["events"]) == 2
    failures = (await get_json(monitor_client, "/api/v1/failures"))["failures"]
    by_task = {f["task"]: f for f in failures}
    boom = by_task["tests.monitor.boom"]
    assert boom["id"] == failed.id and boom["event"] == "failed"
    assert "ValueError: kaput" in boom["error"]["traceback"]
    assert by_task["tests.monitor.unknown"]["reason"] == "unknown_task"
    stats = await get_json(monitor_client, "/api/v1/stats?minutes=2")
    assert stats["tasks"]["tests.monitor.ok"] == {"started": 3, "succeeded": 3}
    assert stats["tasks"]["tests.monitor.boom"] == {"started": 1, "failed": 1}
    assert stats["tasks"]["<unknown>"] == {"dead_lettered": 1}  # unregistered: one name
    throughput = stats["throughput"]
    assert throughput["bucket_seconds"] == 10 and len(throughput["buckets"]) == 12
    totals = {
        kind: sum(b[kind] for b in throughput["buckets"])
        for kind in ("succeeded", "failed", "dead_lettered", "retried")
    }
    assert totals == {"succeeded": 3, "failed": 1, "dead_lettered": 1, "retried": 0}
    for query in ("minutes=0", "minutes=61"):
        await get_json(monitor_client, f"/api/v1/stats?{query}", status=400)


async def test_cli_and_api_agree(
    monitor_client: Client,
    runtime: Runtime,
    tasks: Tasks,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`inspect queues|dlq|task --json` prints exactly what the API answers."""
    await runtime.send_many([tasks.ok.s(i) for i in range(2)])
    await runtime.dlq.send("tests.monitor.ok", (9,), reason="manual")
    result = await tasks.ok.delay(5)
    checks = [
        ("queues", None, "/api/v1/queues"),
        ("dlq", None, "/api/v1/dlq?limit=50"),
        ("task", result.id, f"/api/v1/tasks/{result.id}"),
    ]
    for what, task_id, path in checks:
        args = argparse.Namespace(
            what=what, task_id=task_id, json=True, queue=None, limit=50, offset=0
        )
        capsys.readouterr()
        await run_inspect(runtime, args)
        printed = orjson.loads(capsys.readouterr().out)
        served = await get_json(monitor_client, path)
        if what == "queues":  # the age of the oldest waiting message moves on between reads
            for row in (*printed["queues"], *served["queues"]):
                row.pop("oldest_waiting_age")
        assert printed == served, what


async def test_every_time_is_iso_utc(
    monitor_client: Client,
    runtime: Runtime,
    tasks: Tasks,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Tasks, events, failures, workers, dead letters and throughput carry ISO 8601 UTC
    times, in the API and in `inspect --json` alike (Redis keeps epoch seconds)."""
    done = await tasks.ok.delay(1)
    failed = await tasks.boom.delay()
    await runtime.dlq.send("tests.monitor.ok", (9,), reason="manual")
    await burst(runtime)
    record = await get_json(monitor_client, f"/api/v1/tasks/{done.id}")
    assert is_iso_utc(record["started_at"]) and is_iso_utc(record["date_done"]), record
    record = await get_json(monitor_client, f"/api/v1/tasks/{failed.id}")
    assert is_iso_utc(record["date_done"]), record  # a FAILURE record has no started_at
    events = (await get_json(monitor_client, "/api/v1/events"))["events"]
    failures = (await get_json(monitor_client, "/api/v1/failures"))["failures"]
    letters = (await get_json(monitor_client, "/api/v1/dlq"))["dead_letters"]
    buckets = (await get_json(monitor_client, "/api/v1/stats"))["throughput"]["buckets"]
    assert events and failures and letters and buckets
    assert all(is_iso_utc(e["time"]) for e in [*events, *failures, *buckets])
    assert all(is_iso_utc(letter["failed_at"]) for letter in letters)
    async with running_worker(runtime, "iso-worker"):
        (worker,) = (await get_json(monitor_client, "/api/v1/workers"))["workers"]
        assert is_iso_utc(worker["started_at"]) and is_iso_utc(worker["last_heartbeat"])
        printed = []
        for what, task_id in (("workers", None), ("dlq", None), ("task", done.id)):
            args = argparse.Namespace(
                what=what, task_id=task_id, json=True, queue=None, limit=50, offset=0
            )
            capsys.readouterr()
            await run_inspect(runtime, args)
            printed.append(orjson.loads(capsys.readouterr().out))
    (cli_worker,) = printed[0]["workers"]
    assert is_iso_utc(cli_worker["started_at"]) and is_iso_utc(cli_worker["last_heartbeat"])
    assert all(is_iso_utc(letter["failed_at"]) for letter in printed[1]["dead_letters"])
    assert is_iso_utc(printed[2]["started_at"]) and is_iso_utc(printed[2]["date_done"])
