"""The dramatiq broker and actors (``dramatiq benchmarks.apps.dramatiq_app``)."""

from __future__ import annotations

import time
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

from benchmarks import probe
from benchmarks.apps import env


def build(url: str, prefix: str) -> dict[str, Any]:
    """A Redis broker under ``prefix`` with results stored; the actors by name."""
    broker = RedisBroker(url=url, namespace=prefix)
    broker.add_middleware(Results(backend=RedisBackend(url=url, namespace=f"{prefix}-results")))
    dramatiq.set_broker(broker)
    options: dict[str, Any] = {
        "store_results": True,
        "result_ttl": env.RESULT_TTL * 1000,
        "max_retries": 0,
        "queue_name": "default",
    }

    @dramatiq.actor(actor_name="noop", **options)
    def noop() -> None:
        probe.done()

    @dramatiq.actor(actor_name="late", **options)
    def late(sent_at: float, due_at: float | None = None) -> None:
        probe.late(sent_at, due_at)

    @dramatiq.actor(actor_name="sleep1", **options)
    def sleep1() -> None:
        probe.started()
        time.sleep(1)
        probe.done()

    return {"broker": broker, "noop": noop, "late": late, "sleep1": sleep1}


app = build(env.URL, env.PREFIX)
broker = app["broker"]
