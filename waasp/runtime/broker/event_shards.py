"""Task events sharded over a cluster's masters: how many shards, and merging what they hold.

One set of event keys lives in one slot, so on a Redis Cluster every worker's event writes
would load one master. There each worker writes the keys of one of ``EVENT_SHARDS`` hash
tags (``Keys.events_shard``, chosen by its name), and readers merge the shards.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from waasp.runtime.broker.client import is_cluster
from waasp.runtime.broker.replies import text

# Enough tags to spread over a cluster's masters; a reader makes one call per shard.
EVENT_SHARDS = 8


def shard_count(client: Redis) -> int:
    """How many event shards the runtime keeps through ``client``: one on a single server."""
    return EVENT_SHARDS if is_cluster(client) else 1


def newest(found: list[list[dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` events of several shards' newest-first lists."""
    if len(found) == 1:
        return found[0][:limit]
    merged = [event for events in found for event in events]
    return sorted(merged, key=lambda e: float(e.get("time") or 0), reverse=True)[:limit]


def merged(hashes: list[dict[Any, Any]]) -> dict[str, float]:
    """Several shards' counter hashes, summed field by field."""
    out: dict[str, float] = {}
    for found in hashes:
        for key, value in found.items():
            name = text(key)
            out[name] = out.get(name, 0) + float(value)
    return out
