"""`inspect queues` and the queue figures behind it: names shown, live workers counted."""

from __future__ import annotations

import orjson

from tests.integration.runtime.conftest import run_cli
from waasp.runtime import Runtime, monitor
from waasp.runtime.keys import GROUP


async def test_inspect_queues_table_names_each_queue(
    runtime: Runtime, cli_env: dict[str, str]
) -> None:
    """The table's `queue` column shows the queue's name, as the JSON's `name` does."""
    await runtime.send_task("tests.integration.runtime.apps.ping", ("a",))
    await runtime.send_task("tests.integration.runtime.apps.urgent_ping", ("b",))
    done = run_cli(cli_env, "inspect", "queues", "-A", "tests.integration.runtime.apps:runtime")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.strip().splitlines()
    assert header.split()[0] == "queue"
    assert sorted(row.split()[0] for row in rows) == ["default", "high"]
    as_json = run_cli(
        cli_env, "inspect", "queues", "--json", "-A", "tests.integration.runtime.apps:runtime"
    )
    assert sorted(q["name"] for q in orjson.loads(as_json.stdout)["queues"]) == ["default", "high"]


async def test_consumers_counts_only_live_workers(runtime: Runtime) -> None:
    """`consumers` counts the live workers on a queue, not its group's consumers: those of
    dead workers are left out, pending entries or not."""
    await runtime.broker.ensure_group("default")
    stream = runtime.keys.queue("default").stream
    client = runtime.broker.client
    await runtime.send_task("tests.integration.runtime.apps.ping", ("held",))
    await client.xreadgroup(GROUP, "dead-holding", {stream: ">"}, count=1)
    await client.xgroup_createconsumer(stream, GROUP, "dead-empty")
    for name, queues in (("alive", ["default", "high"]), ("alive-elsewhere", ["high"])):
        await runtime.broker.workers.beat(name, 60_000, {"queues": queues})
    stats = {s.name: s for s in await monitor.queue_stats(runtime, ["default", "high"])}
    assert stats["default"].consumers == 1
    assert stats["high"].consumers == 2
    assert stats["default"].in_flight == 1  # the dead worker's entry still counts as held
