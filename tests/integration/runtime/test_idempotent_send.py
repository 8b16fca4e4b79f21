"""An explicit ``task_id`` makes a send idempotent: a second send of the same id, immediate,
delayed or in bulk, returns the same handle and enqueues nothing."""

from __future__ import annotations

from tests.integration.runtime import apps
from tests.integration.runtime.conftest import WorkerFactory, runs, stream_state, wait_settled
from waasp.runtime import Runtime


async def delayed_count(runtime: Runtime) -> int:
    """How many messages wait in the default queue's delay set."""
    return int(await runtime.broker.client.zcard(runtime.keys.queue("default").delayed))


async def test_resending_a_task_id_enqueues_it_once(runtime: Runtime) -> None:
    """Sending the same task_id twice (a producer retrying a send whose reply it lost) leaves
    one message in the stream, and both calls return a handle on that id."""
    first = await apps.add.apply_async((1, 2), task_id="order-17")
    again = await apps.add.apply_async((1, 2), task_id="order-17")
    assert first.id == again.id == "order-17"
    assert await stream_state(runtime) == (1, 0)


async def test_resending_a_delayed_task_id_schedules_it_once(runtime: Runtime) -> None:
    """A delayed send (countdown or eta) of an id already sent is dropped too."""
    await apps.add.apply_async((1, 2), task_id="later-1", countdown=60)
    await apps.add.apply_async((1, 2), task_id="later-1", countdown=60)
    await apps.add.apply_async((1, 2), task_id="later-1")
    assert await delayed_count(runtime) == 1
    assert await stream_state(runtime) == (0, 0)


async def test_send_many_skips_ids_already_sent(runtime: Runtime) -> None:
    """In bulk, an id sent before or earlier in the same batch is enqueued once; signatures
    without an id are all enqueued."""
    await apps.add.apply_async((0, 0), task_id="bulk-0")
    signatures = [apps.add.s(i, i).set(task_id=f"bulk-{i % 3}") for i in range(6)]
    signatures += [apps.add.s(9, 9), apps.add.s(9, 9)]
    results = await runtime.send_many(signatures)
    assert [r.id for r in results[:6]] == [f"bulk-{i % 3}" for i in range(6)]
    assert len({r.id for r in results[6:]}) == 2
    assert await stream_state(runtime) == (3 + 2, 0)


async def test_sends_without_a_task_id_are_never_merged(runtime: Runtime) -> None:
    """The plain path enqueues every call: each gets an id of its own."""
    results = [await apps.add.delay(1, 1) for _ in range(3)]
    assert len({r.id for r in results}) == 3
    assert await stream_state(runtime) == (3, 0)


async def test_a_finished_task_is_not_run_again_by_a_resend(
    runtime: Runtime, workers: WorkerFactory
) -> None:
    """While the task's record lives, re-sending its id after it ran returns its result and
    runs nothing."""
    workers.start(concurrency=2)
    result = await apps.add.apply_async((2, 3), task_id="once-5")
    assert await result.get(timeout=15) == 5
    await wait_settled(runtime)
    again = await apps.add.apply_async((2, 3), task_id="once-5")
    assert await again.get(timeout=5) == 5
    assert await stream_state(runtime) == (0, 0)
    assert await runs(runtime, "add") == 1
