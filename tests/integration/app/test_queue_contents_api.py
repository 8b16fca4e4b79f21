"""What the dashboard reads of the runtime beyond counts: queue contents, and a task with its
arguments wherever it sits; and what each costs in Redis commands."""

from __future__ import annotations

import argparse
from datetime import datetime

import orjson
import pytest

from benchmarks.monitor import QUEUES, CommandCounter, populate
from tests.integration.app.conftest import AUTH, Client
from tests.integration.app.test_monitor_api import Tasks, burst, get_json, is_iso_utc
from waasp.runtime import Runtime
from waasp.runtime.broker.peek import SCAN_BATCH
from waasp.runtime.cli.commands import run_inspect
from waasp.runtime.monitor.contents import SCAN_LIMIT


async def test_queue_tasks_lists_waiting_and_delayed_with_arguments(
    monitor_client: Client, runtime: Runtime
) -> None:
    """Waiting tasks oldest first and delayed ones next due first, with args, due time and
    totals; ``limit`` cuts the lists, not the totals."""
    tasks = Tasks(runtime)
    sent = [await tasks.ok.delay(i) for i in range(3)]
    delayed = await tasks.ok.apply_async((42,), countdown=120)

    body = await get_json(monitor_client, "/api/v1/queues/default/tasks?limit=2")
    assert body["queue"] == "default" and body["limit"] == 2
    assert body["waiting"]["total"] == 3
    waiting = body["waiting"]["tasks"]
    assert [t["task_id"] for t in waiting] == [r.id for r in sent[:2]]
    assert [t["args"] for t in waiting] == [[0], [1]]
    assert {t["task"] for t in waiting} == {"tests.monitor.ok"}
    assert {t["place"] for t in waiting} == {"waiting"}
    [later] = body["delayed"]["tasks"]
    assert (later["task_id"], later["args"], later["place"]) == (delayed.id, [42], "delayed")
    assert 100 < later["due_in"] <= 120
    due = datetime.fromisoformat(later["due_at"])
    assert due > datetime.fromisoformat(body["time"])
    assert is_iso_utc(later["due_at"]) and is_iso_utc(body["time"])
    assert all(is_iso_utc(t["enqueued_at"]) for t in [*waiting, later])


async def test_queue_tasks_of_an_unused_queue_is_empty_and_a_bad_name_is_400(
    monitor_client: Client,
) -> None:
    """A valid queue nothing was sent to is empty; an invalid name is a 400 naming it."""
    body = await get_json(monitor_client, "/api/v1/queues/nothing-here/tasks")
    assert (body["waiting"], body["delayed"]) == (
        {"total": 0, "tasks": []},
        {"total": 0, "tasks": []},
    )
    bad = await get_json(monitor_client, "/api/v1/queues/bad%20name!/tasks", status=400)
    assert bad["details"]["field"] == "name"
    for limit in ("0", "501", "x"):
        bad = await get_json(monitor_client, f"/api/v1/queues/default/tasks?limit={limit}", 400)
        assert bad["details"]["field"] == "limit"


@pytest.mark.parametrize("path", ["/api/v1/queues/default/tasks", "/api/v1/audit/recent-blocked"])
async def test_new_reads_need_the_token(monitor_client: Client, path: str) -> None:
    """The dashboard's new reads are behind the token like every admin route."""
    assert (await monitor_client.get(path)).status == 401
    assert (await monitor_client.get(path, headers={"Authorization": "Bearer no"})).status == 403


async def test_task_lookup_shows_arguments_while_waiting_and_after_failing(
    monitor_client: Client, runtime: Runtime
) -> None:
    """A waiting task's record carries its message; a failed one points at its dead letter;
    a succeeded one has its result and no message."""
    tasks = Tasks(runtime)
    waiting = await tasks.ok.delay(7)
    body = await get_json(monitor_client, f"/api/v1/tasks/{waiting.id}")
    assert body["state"] == "PENDING"
    assert body["message"]["place"] == "waiting" and body["message"]["args"] == [7]

    failing = await tasks.boom.delay()
    await burst(runtime)
    body = await get_json(monitor_client, f"/api/v1/tasks/{failing.id}")
    assert body["state"] == "FAILURE" and "ValueError: kaput" in body["error"]["traceback"]
    assert body["message"]["place"] == "dead"
    assert body["message"]["dead_id"].startswith("default:")
    letters = await get_json(monitor_client, "/api/v1/dlq")
    assert body["message"]["dead_id"] in [x["id"] for x in letters["dead_letters"]]

    done = await get_json(monitor_client, f"/api/v1/tasks/{waiting.id}")
    assert (done["state"], done["result"], done["message"]) == ("SUCCESS", 14, None)


async def test_task_lookup_finds_a_delayed_task_and_knows_nothing_of_an_unknown_one(
    monitor_client: Client, runtime: Runtime
) -> None:
    """A delayed task is found in its queue's delay set; an unknown id is PENDING, no message."""
    tasks = Tasks(runtime)
    later = await tasks.ok.apply_async((1,), countdown=300, queue="slow")
    body = await get_json(monitor_client, f"/api/v1/tasks/{later.id}")
    assert body["message"]["place"] == "delayed" and body["message"]["queue"] == "slow"
    unknown = await get_json(monitor_client, "/api/v1/tasks/no-such-task")
    assert (unknown["state"], unknown["message"]) == ("PENDING", None)
    response = await monitor_client.get("/api/v1/tasks/no-such-task", headers=AUTH)
    assert response.status == 200


async def test_a_task_and_its_message_carry_iso_times_in_the_api_and_the_cli(
    monitor_client: Client, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    """A delayed task's message (enqueued, due) has ISO 8601 UTC times like its record, in the
    API and in `inspect task --json` alike."""
    later = await Tasks(runtime).ok.apply_async((1,), countdown=300)
    served = await get_json(monitor_client, f"/api/v1/tasks/{later.id}")
    message = served["message"]
    assert is_iso_utc(message["enqueued_at"]) and is_iso_utc(message["due_at"])
    args = argparse.Namespace(what="task", task_id=later.id, json=True)
    capsys.readouterr()
    await run_inspect(runtime, args)
    printed = orjson.loads(capsys.readouterr().out)
    assert {k: v for k, v in printed.items() if k != "message"} == {
        k: v for k, v in served.items() if k != "message"
    }
    assert {k: v for k, v in printed["message"].items() if k != "due_in"} == {
        k: v for k, v in message.items() if k != "due_in"
    }


async def redis_cost(client: Client, path: str) -> tuple[int, int]:
    """(commands, round trips) one GET of ``path`` sends to Redis."""
    counter = CommandCounter()
    with counter.installed():
        response = await client.get(path, headers=AUTH)
        assert response.status == 200, await response.text()
    return counter.commands, counter.round_trips


async def test_queue_contents_cost_does_not_grow_and_task_lookup_is_bounded(
    monitor_client: Client, runtime: Runtime
) -> None:
    """A queue's contents cost the same Redis commands with 2,100 tasks as with 100; looking up
    an id found nowhere reads at most SCAN_LIMIT entries of each place in each queue."""
    await populate(runtime, 100)
    paths = [f"/api/v1/queues/{queue}/tasks?limit=20" for queue in QUEUES]
    few = [await redis_cost(monitor_client, path) for path in paths]
    await populate(runtime, 2000, start=100)
    many = [await redis_cost(monitor_client, path) for path in paths]
    # one of the seven: EXISTS of the queue's priority streams (none: the plain queue's cost)
    assert many == few == [(7, 2)] * len(QUEUES)

    commands, _ = await redis_cost(monitor_client, "/api/v1/tasks/no-such-task")
    batches = -(-SCAN_LIMIT // SCAN_BATCH)  # per place, at most
    # the record, the known queues, then per queue: its priority streams, the group, the stream
    # and the delay set
    assert commands <= 2 + len(QUEUES) * (2 + 2 * batches)
