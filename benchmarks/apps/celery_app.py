"""The Celery app (``celery -A benchmarks.apps.celery_app:app worker -P threads``)."""

from __future__ import annotations

import time
from typing import Any

from celery import Celery

from benchmarks import probe
from benchmarks.apps import env


def build(url: str, prefix: str) -> Any:
    """A Celery app with the Redis broker and result backend, every key under ``prefix``."""
    app = Celery("bench", broker=url, backend=url, set_as_current=False)
    app.conf.update(
        broker_transport_options={"global_keyprefix": prefix},
        result_backend_transport_options={"global_keyprefix": prefix},
        task_default_queue="default",
        result_expires=env.RESULT_TTL,
        # the same delivery guarantee as waasp: acknowledge after the task ran
        task_acks_late=True,
        worker_prefetch_multiplier=4,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    @app.task(name="bench.noop")
    def noop() -> None:
        probe.done()

    @app.task(name="bench.late")
    def late(sent_at: float, due_at: float | None = None) -> None:
        probe.late(sent_at, due_at)

    @app.task(name="bench.sleep1")
    def sleep1() -> None:
        probe.started()
        time.sleep(1)
        probe.done()

    return app


app = build(env.URL, env.PREFIX)
