"""Writes that wait for replicas (``broker_min_replicas``): each is sent with a WAIT on the
same connection, since WAIT counts the replicas that have the writes of its own connection.

On a cluster, the writes are sent to the master that holds their keys, one connection per
master, each group followed by its WAIT (the cluster client would send a WAIT to every
master, on connections that wrote nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.asyncio.cluster import PipelineCommand
from redis.exceptions import AskError
from redis.exceptions import ConnectionError as RedisConnectionError

from waasp.runtime.broker.client import ready
from waasp.runtime.broker.ops import SendOnce
from waasp.runtime.broker.reads import MESSAGE_FIELD
from waasp.runtime.broker.scripts import Scripts
from waasp.runtime.errors import NotReplicated
from waasp.runtime.keys import Keys

# How long a write waits for its replicas: a replica that is up acknowledges within
# milliseconds; one that is not will not in a second either.
WAIT_TIMEOUT_MS = 1000

# The field of a stream entry that holds the message.

Write = tuple[str, Sequence[Any]]  # (a key the command touches, the command's arguments)


def script_write(source: str, keys: Sequence[str], args: Sequence[Any]) -> Write:
    """A script call as a write (EVAL with the source: a node lacking it needs nothing)."""
    return keys[0], ("EVAL", source, len(keys), *keys, *args)


def send_writes(
    keys: Keys,
    scripts: Scripts,
    items: Sequence[tuple[str, bytes]],
    once: Mapping[int, SendOnce],
    priorities: Mapping[int, int],
) -> list[Write]:
    """The writes that enqueue ``items`` (queue, body), each to the stream of its priority in
    ``priorities`` (0 if absent); those whose index is in ``once`` by the ``enqueue_once``
    script."""
    enqueue_once = scripts.enqueue_once.script
    writes: list[Write] = []
    for i, (queue, body) in enumerate(items):
        q = keys.queue(queue)
        stream = q.stream_at(priorities.get(i, 0))
        if (marked := once.get(i)) is None:
            writes.append((stream, ("XADD", stream, "*", MESSAGE_FIELD, body)))
        else:
            args = [body, marked.ttl_ms]
            writes.append(script_write(enqueue_once, [q.sent(marked.task_id), stream], args))
    return writes


async def write_replicated(client: Redis, writes: Sequence[Write], replicas: int) -> list[Any]:
    """Send ``writes`` (in order per master) and WAIT for ``replicas`` replicas of each
    master that took some; return their replies. NotReplicated if fewer acknowledged."""
    if isinstance(client, RedisCluster):
        await ready(client)
        groups: dict[str, list[int]] = {}
        for i, (key, _) in enumerate(writes):
            groups.setdefault(client.get_node_from_key(key).name, []).append(i)
        replies: list[Any] = [None] * len(writes)
        done = await asyncio.gather(
            *(_on_node(client, [writes[i] for i in group], replicas) for group in groups.values())
        )
        for group, got in zip(groups.values(), done, strict=True):
            for i, reply in zip(group, got, strict=True):
                replies[i] = reply
        return replies
    async with client.pipeline(transaction=False) as pipe:
        for _, command in writes:
            pipe.execute_command(*command)
        pipe.execute_command("WAIT", replicas, WAIT_TIMEOUT_MS)
        *replies, reached = await pipe.execute(raise_on_error=False)
    return _checked(replies, reached, replicas)


async def _on_node(client: RedisCluster, writes: Sequence[Write], replicas: int) -> list[Any]:
    node = client.get_node_from_key(writes[0][0])
    commands = [PipelineCommand(i, *command) for i, (_, command) in enumerate(writes)]
    commands.append(PipelineCommand(len(writes), "WAIT", replicas, WAIT_TIMEOUT_MS))
    try:
        await node.execute_pipeline(commands)
    except RedisConnectionError:
        await client.aclose()  # reload the slot map: the master may have failed over
        raise
    results = [c.result for c in commands]
    if any(isinstance(r, AskError) for r in results):  # MOVED, ASK: the slots moved
        await client.aclose()
    return _checked(results[:-1], results[-1], replicas)


def _checked(replies: list[Any], reached: Any, replicas: int) -> list[Any]:
    for reply in (*replies, reached):
        if isinstance(reply, BaseException):
            raise reply
    if int(reached) < replicas:
        raise NotReplicated(
            f"{int(reached)} of the {replicas} replicas required (broker_min_replicas) "
            f"acknowledged the write within {WAIT_TIMEOUT_MS} ms; it was made on the master "
            "and may be lost if the master fails before a replica has it"
        )
    return replies
