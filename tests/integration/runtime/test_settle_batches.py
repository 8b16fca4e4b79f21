"""Settling and storing in large batches: every owned entry of a batch larger than one
XACK/XDEL chunk is settled, an entry another consumer took over is left to it, and a record
from an earlier delivery is refused among many that are stored."""

from __future__ import annotations

from waasp.runtime import Runtime
from waasp.runtime.broker import SettleOp
from waasp.runtime.keys import GROUP
from waasp.runtime.message import ResultRecord, TaskMeta
from waasp.runtime.states import SUCCESS

ENTRIES = 2_500  # more than one chunk of 1,000 ids in settle.lua


async def test_a_batch_larger_than_a_chunk_is_settled_except_a_lost_entry(
    runtime: Runtime,
) -> None:
    broker, q = runtime.broker, runtime.keys.queue("default")
    await broker.ensure_group("default")
    async with broker.client.pipeline(transaction=False) as pipe:
        for i in range(ENTRIES):
            pipe.xadd(q.stream, {"message": f"m{i}"})
        await pipe.execute()
    held = await broker.read(["default"], "c1", ENTRIES, None)
    assert len(held) == ENTRIES
    taken = held[1234].entry_id
    await broker.client.xclaim(q.stream, GROUP, "c2", 0, [taken])
    # The same entry twice in one call is settled by its first op only, as before.
    ops = [SettleOp.ack(d.entry_id) for d in held] + [SettleOp.ack(held[0].entry_id)]
    lost = await broker.settle("default", "c1", ops)
    assert lost == [taken, held[0].entry_id]
    assert await broker.client.xlen(q.stream) == 1
    pending = await broker.client.xpending(q.stream, GROUP)
    assert pending["pending"] == 1
    assert [c["name"] for c in pending["consumers"]] == [b"c2"]


async def test_many_records_are_stored_and_an_earlier_delivery_s_is_refused(
    runtime: Runtime,
) -> None:
    results = runtime.results

    def record(i: int, entry_id: str) -> ResultRecord:
        return ResultRecord(TaskMeta(id=f"r{i}", state=SUCCESS, result=i, entry_id=entry_id))

    assert await results.store_many([record(7, "9-0")]) == [True]
    stored = await results.store_many([record(i, "5-0") for i in range(1500)])
    assert stored == [i != 7 for i in range(1500)]
    assert (await results.get_meta("r7")).entry_id == "9-0"
    assert (await results.get_meta("r1499")).result == 1499
