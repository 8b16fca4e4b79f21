"""Chains, groups and chords on an in-process worker, and the chord counter's Lua."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.runtime import flow_app
from tests.integration.runtime.conftest import stream_state, wait_until
from tests.integration.runtime.flow_fixtures import rt, worker
from waasp.runtime import (
    FAILURE,
    PENDING,
    SUCCESS,
    Runtime,
    Signature,
    TaskFailed,
    Worker,
    chain,
    chord,
    group,
)
from waasp.runtime.broker import RawDelivery, SettleOp
from waasp.runtime.message import TaskMessage, decode_message, encode_message
from waasp.runtime.states import STARTED
from waasp.runtime.worker.flow import Flow
from waasp.runtime.worker.outcomes import Outcome
from waasp.runtime.workflow import CHORD, ChordMembership, Step

__all__ = ["rt", "worker"]  # the fixtures, shared

pytestmark = pytest.mark.timeout(120)


async def counted(rt: Runtime, name: str) -> int:
    """A counter the test app's tasks keep."""
    return int(await rt.broker.client.get(flow_app.key(rt, name)) or 0)


async def test_chain_passes_each_result_on(rt: Runtime, worker: Worker) -> None:
    """A chain of three runs in order, each task given the previous result first; its handle
    is the last task's."""
    res = await chain(flow_app.add.s(1, 2), flow_app.add.s(3), flow_app.mul.s(10)).apply_async()
    assert await res.get(timeout=30) == 60
    assert await res.state() == SUCCESS
    assert (await res.meta()).name == flow_app.mul.name


async def test_chain_delay_prepends_arguments(rt: Runtime, worker: Worker) -> None:
    """``chain(...).delay(args)`` passes the arguments to the first task; ``sig.set`` options
    (a task id) are kept."""
    res = await chain(flow_app.add.s(1), flow_app.mul.s(2).set(task_id="last-step")).delay(4)
    assert res.id == "last-step"
    assert await res.get(timeout=30) == 10


async def test_failing_middle_task_stops_the_chain(rt: Runtime, worker: Worker) -> None:
    """A task that fails stops its chain: what follows never runs, and the chain's handle
    says FAILURE with the failing task's error."""
    after = flow_app.count_runs.s("after_failure")
    res = await chain(flow_app.add.s(1, 2), flow_app.explode.s(), after).apply_async()
    with pytest.raises(TaskFailed) as failed:
        await res.get(timeout=30)
    assert failed.value.exc_type == "ValueError"
    assert failed.value.message == "exploded on [3]"
    assert await res.state() == FAILURE
    await wait_until(lambda: _settled(rt), timeout=30)
    assert await counted(rt, "after_failure") == 0


async def _settled(rt: Runtime) -> bool:
    return await stream_state(rt) == (0, 0)


async def test_group_of_100_returns_results_in_order(rt: Runtime, worker: Worker) -> None:
    """A group of 100 runs in parallel; ``get`` lists the results in the group's order."""
    res = await group(flow_app.square.s(i) for i in range(100)).apply_async()
    assert len(res) == 100
    assert await res.get(timeout=60) == [i * i for i in range(100)]
    assert await res.ready() and await res.successful() and not await res.failed()
    assert await res.completed_count() == 100


async def test_group_with_a_failure(rt: Runtime, worker: Worker) -> None:
    """A group with a failing member: ``get`` raises it, or lists its error in its place."""
    res = await group([flow_app.add.s(1, 1), flow_app.explode.s(), flow_app.add.s(2, 2)]).delay()
    with pytest.raises(TaskFailed):
        await res.get(timeout=30)
    values = await res.get(timeout=30, propagate=False)
    assert values[0] == 2 and values[2] == 4 and values[1].type == "ValueError"
    assert await res.failed() and await res.completed_count() == 2


async def test_chord_of_100_calls_back_once_with_ordered_results(
    rt: Runtime, worker: Worker
) -> None:
    """A chord's callback runs once, with every member's result in member order."""
    res = await chord((flow_app.square.s(i) for i in range(100)), flow_app.total.s(7)).delay()
    assert await res.get(timeout=60) == sum(i * i for i in range(100)) + 7
    await wait_until(lambda: _settled(rt), timeout=30)
    assert await counted(rt, "callback_runs") == 1
    args = await rt.broker.client.lrange(flow_app.key(rt, "callback_args"), 0, -1)
    assert args == [repr([i * i for i in range(100)]).encode()]


async def test_chord_header_then_callback_and_chained_callback(rt: Runtime, worker: Worker) -> None:
    """Celery's ``chord(header)(callback)``, with a chain as the callback: the handle is the
    chain's last task's."""
    header = [flow_app.square.s(i) for i in range(5)]
    res = await chord(header)(chain(flow_app.total.s(), flow_app.mul.s(2)))
    assert await res.get(timeout=30) == 2 * sum(i * i for i in range(5))


async def test_empty_chord_calls_back_with_nothing(rt: Runtime, worker: Worker) -> None:
    """A chord without members calls its callback at once with an empty list (as Celery)."""
    res = await chord([], flow_app.total.s()).apply_async()
    assert await res.get(timeout=30) == 0


async def test_failed_member_fails_the_chord(rt: Runtime, worker: Worker) -> None:
    """A member that fails for good: the callback never runs, and its record says FAILURE
    with a ChordError naming the member's error."""
    header: list[Signature[Any]] = [
        flow_app.square.s(1),
        flow_app.explode.s(),
        flow_app.square.s(2),
    ]
    res = await chord(header, flow_app.total.s()).apply_async()
    with pytest.raises(TaskFailed) as failed:
        await res.get(timeout=30)
    assert failed.value.exc_type == "waasp.runtime.errors.ChordError"
    assert "ValueError: exploded on []" in failed.value.message
    await wait_until(lambda: _settled(rt), timeout=30)
    assert await counted(rt, "square_runs") == 2
    assert await counted(rt, "callback_runs") == 0


async def test_workflow_step_refuses_unknown_options(rt: Runtime) -> None:
    """An option a workflow step cannot carry is refused when the workflow is applied."""
    with pytest.raises(ValueError, match="not supported"):
        await chain(flow_app.add.s(1, 2).set(bogus=1), flow_app.mul.s(2)).apply_async()


async def test_chord_counter_counts_each_member_once(rt: Runtime) -> None:
    """``lua/chord_done.lua``: a member counted twice (redelivered) counts once and keeps its
    first result; every finish after the last member's returns the results; a failure after
    completion changes nothing, and before it the chord never completes."""
    chords = rt.broker.chords
    assert await chords.member_done("c1", 0, 2, b"10", 60_000) is None
    assert await chords.member_done("c1", 0, 2, b"11", 60_000) is None
    assert await chords.member_done("c1", 1, 2, b"20", 60_000) == [b"10", b"20"]
    assert await chords.member_done("c1", 1, 2, b"21", 60_000) == [b"10", b"20"]
    assert not await chords.fail("c1", 2, 60_000)
    assert await chords.fail("c2", 2, 60_000)
    assert await chords.member_done("c2", 0, 2, b"1", 60_000) is None
    assert await chords.member_done("c2", 1, 2, b"2", 60_000) is None
    assert await chords.fail("c2", 2, 60_000)  # a redelivered failure still writes its record
    assert 0 < await rt.broker.client.pttl(rt.keys.chord("c1")) <= 60_000


async def test_last_member_redelivered_sends_the_callback_once(rt: Runtime) -> None:
    """The last member's step, done twice (its worker died before acknowledging), enqueues
    the callback once: its send is idempotent by its fixed task id."""
    callback = Step(flow_app.total.name, "callback-id")
    membership = ChordMembership("chord-x", 0, 1, callback)
    message = TaskMessage(
        id="member-0", task=flow_app.square.name, headers={CHORD: membership.as_header()}
    )
    delivery = RawDelivery("default", "1-0", encode_message(message))
    outcome = Outcome(SUCCESS, SettleOp.ack(delivery.entry_id), retval=9)
    flow = Flow(rt)
    await flow.advance(message, outcome)
    await flow.advance(message, outcome)
    assert await stream_state(rt) == (1, 0)
    assert await rt.AsyncResult("callback-id").state() == PENDING
    # A retry or a start moves nothing on.
    await flow.advance(message, Outcome(STARTED, SettleOp.ack("1-0")))
    assert await stream_state(rt) == (1, 0)


async def test_member_that_keeps_killing_workers_fails_the_chord(rt: Runtime) -> None:
    """A member dead-lettered by the start gate (it started ``broker_max_deliveries`` times)
    fails its chord too: the callback's record says FAILURE and the callback never runs."""
    res = await chord([flow_app.square.s(3)], flow_app.total.s()).apply_async()
    q = rt.keys.queue("default")
    [(entry_id, _)] = await rt.broker.client.xrange(q.stream)
    await rt.broker.client.hset(q.starts, entry_id, rt.conf.broker_max_deliveries)
    await Worker(rt, ["default"], 2, burst=True).run()
    with pytest.raises(TaskFailed) as failed:
        await res.get(timeout=30)
    assert failed.value.exc_type == "waasp.runtime.errors.ChordError"
    assert "MaxDeliveriesExceeded" in failed.value.message
    assert await counted(rt, "square_runs") == 0
    assert await counted(rt, "callback_runs") == 0


async def test_group_and_chord_members_keep_their_countdown(rt: Runtime) -> None:
    """A member with a countdown waits in the delay set (``send_many`` takes none); the
    others go to the stream at once; results stay in member order."""
    delayed = flow_app.add.s(3, 3).set(countdown=600)
    res = await group([flow_app.add.s(1, 1), delayed, flow_app.add.s(2, 2)]).apply_async()
    queue = rt.keys.queue("default")
    [raw] = await rt.broker.client.zrange(queue.delayed, 0, -1)
    assert decode_message(raw).id == res.results[1].id
    assert await stream_state(rt) == (2, 0)
    await chord([delayed], flow_app.total.s()).apply_async()
    assert await rt.broker.client.zcard(queue.delayed) == 2


async def test_groups_and_chords_inside_a_chain(rt: Runtime, worker: Worker) -> None:
    """A group in a chain gets the previous result in each member and, with the task after
    it, forms a chord; a chord in a chain passes its callback's result on; a chain may start
    with a group."""
    members = group(flow_app.mul.s(i) for i in (1, 2, 3))
    res = await chain(flow_app.add.s(1, 1), members, flow_app.total.s()).apply_async()
    assert await res.get(timeout=30) == 2 + 4 + 6
    inner = chord([flow_app.mul.s(1), flow_app.mul.s(2)], flow_app.total.s())
    res = await chain(flow_app.add.s(1, 1), inner, flow_app.add.s(100)).delay()
    assert await res.get(timeout=30) == 106
    res = await chain(group(flow_app.square.s(i) for i in range(4)), flow_app.total.s()).delay()
    assert await res.get(timeout=30) == 0 + 1 + 4 + 9
    res = await chain(flow_app.add.s(1), group([]), flow_app.total.s(5)).delay(1)
    assert await res.get(timeout=30) == 5


async def test_failure_before_a_group_fails_everything_after(rt: Runtime, worker: Worker) -> None:
    """A step failing before a group: no member runs, and the members' and the callback's
    records say FAILURE with its error."""
    header = group(flow_app.square.s(i) for i in range(3))
    res = await chain(flow_app.explode.s(), header, flow_app.total.s()).apply_async()
    with pytest.raises(TaskFailed) as failed:
        await res.get(timeout=30)
    assert failed.value.exc_type == "ValueError"
    await wait_until(lambda: _settled(rt), timeout=30)
    assert await counted(rt, "square_runs") == 0


async def test_a_group_cannot_end_a_chain(rt: Runtime) -> None:
    """A chain ending with a group is refused (it would have no single handle)."""
    with pytest.raises(ValueError, match="cannot end with a group"):
        await chain(flow_app.add.s(1, 1), group([flow_app.mul.s(2)])).apply_async()


async def test_step_that_sends_a_group_redelivered_sends_it_once(rt: Runtime) -> None:
    """The step before a group, done twice (redelivered), enqueues each member once."""
    step = chain(
        flow_app.add.s(1, 1), group(flow_app.mul.s(i) for i in range(5)), flow_app.total.s()
    ).step()
    message = TaskMessage(
        id=step.task_id, task=step.task, headers={"chain": [s.as_header() for s in step.chain]}
    )
    outcome = Outcome(SUCCESS, SettleOp.ack("1-0"), retval=2)
    flow = Flow(rt)
    await flow.advance(message, outcome)
    await flow.advance(message, outcome)
    assert await stream_state(rt) == (5, 0)
