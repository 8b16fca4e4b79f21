"""Refuse, or warn about, a Redis that may evict the runtime's keys.

Under any ``maxmemory-policy`` but ``noeviction``, Redis under memory pressure deletes keys
to make room: a queue's stream (tasks whose enqueue returned), its delay set (every delayed
and retried task), results and cron ticks. Under ``noeviction`` it refuses writes instead,
and every loop of the runtime waits and retries until memory is freed: nothing is lost.
"""

from __future__ import annotations

import structlog

from waasp.runtime.broker import Broker
from waasp.runtime.errors import ConfigurationError

log = structlog.get_logger("waasp.runtime.worker.eviction")

SAFE_POLICY = "noeviction"


async def check_eviction_policy(broker: Broker, *, strict: bool) -> None:
    """Log a warning unless Redis's ``maxmemory-policy`` is ``noeviction``; with ``strict``,
    raise ConfigurationError instead."""
    policy = await broker.eviction_policy()
    if policy == SAFE_POLICY:
        return
    found = "unknown (INFO does not say)" if policy is None else policy
    if strict:
        raise ConfigurationError(
            f"Redis maxmemory-policy is {found}, not {SAFE_POLICY}: under memory pressure "
            f"Redis would evict queued and delayed tasks; set `maxmemory-policy {SAFE_POLICY}`"
            " (or run without --strict to only warn)"
        )
    log.warning(
        "eviction_policy_unsafe",
        policy=found,
        expected=SAFE_POLICY,
        reason="under memory pressure Redis may evict queued and delayed tasks",
    )
