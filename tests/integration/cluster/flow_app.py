"""The app of the failover flows: each task appends its number to a ledger file, outside
Redis, so a failover cannot lose the record that it ran."""

from __future__ import annotations

import os
import time

from waasp.runtime import Runtime

runtime = Runtime("waasp")
runtime.conf.update(task_default_retry_delay=0.1, worker_shutdown_timeout=10.0)


@runtime.task(name="flow.mark", queue="flow")
def mark(n: int) -> None:
    """Note that task ``n`` ran (a line in ``$WAASP_TEST_LEDGER``), after
    ``$WAASP_TEST_TASK_SECONDS`` of work if set."""
    time.sleep(float(os.environ.get("WAASP_TEST_TASK_SECONDS") or 0))
    with open(os.environ["WAASP_TEST_LEDGER"], "a", encoding="utf-8") as ledger:
        ledger.write(f"{n}\n")
