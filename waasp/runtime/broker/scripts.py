"""The Lua scripts, loaded once from the ``.lua`` files beside this module.

Nothing outside the broker calls a script: each has one typed method on the broker
(``renew`` on ``LeaseRenewals``, which runs it on its blocking connection).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from waasp.runtime.broker.client import is_cluster


def read_script(name: str) -> str:
    """Return the source of ``lua/<name>.lua``."""
    return resources.files("waasp.runtime.broker").joinpath(f"lua/{name}.lua").read_text("utf-8")


@dataclass(frozen=True, slots=True)
class Scripts:
    """The scripts registered on one Redis client, one field per ``lua/<field>.lua``."""

    enqueue_once: AsyncScript
    read_levels: AsyncScript
    schedule: AsyncScript
    promote: AsyncScript
    start: AsyncScript
    settle: AsyncScript
    reclaim: AsyncScript
    release: AsyncScript
    replay: AsyncScript
    heartbeat: AsyncScript
    fire_tick: AsyncScript
    record_events: AsyncScript
    reap_consumers: AsyncScript
    forget_consumer: AsyncScript
    trim_dead: AsyncScript
    revoke: AsyncScript
    slots_take: AsyncScript
    server_time: AsyncScript

    @classmethod
    def register(cls, client: Redis) -> Scripts:
        """Register every script on ``client`` (loaded into Redis on first call)."""
        return cls(**{f.name: client.register_script(read_script(f.name)) for f in fields(cls)})

    async def clock_ms(self, client: Redis, key: str) -> int:
        """The clock (epoch ms) of the server that holds ``key``."""
        seconds, micros = await self.server_time(keys=[key], client=client)
        return int(seconds) * 1000 + int(micros) // 1000


def in_pipeline(client: Redis) -> bool:
    """Tell whether scripts and TIME may go in ``client``'s pipelines: not on a cluster,
    whose pipelines refuse TIME and do not load a script a node lacks (a promoted replica
    has none), so there they are sent on their own."""
    return not is_cluster(client)
