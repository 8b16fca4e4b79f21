"""The runtime integration suite's core flows, run again against a 3-master Redis Cluster.

Each test is the runtime suite's own, collected here so that its ``redis_url`` is the
cluster's (see conftest): enqueue, bulk, drain, retries, delay, DLQ, replay, results,
idempotent sends, peek, inspect and the scheduler.
"""

from tests.integration.runtime.test_basics import (
    test_delay_then_get_returns_the_value,
    test_failure_carries_the_remote_error,
    test_routing_by_glob_keeps_queues_apart,
    test_sync_task_runs_in_the_worker,
    test_unknown_id_is_pending,
)
from tests.integration.runtime.test_dlq_cli import test_dlq_inspect_replay_purge
from tests.integration.runtime.test_eta import (  # noqa: F401 - a fixture
    skewed_producer,
    test_eta_is_a_countdown_on_the_server_clock,
)
from tests.integration.runtime.test_idempotent_send import (
    test_resending_a_delayed_task_id_schedules_it_once,
    test_send_many_skips_ids_already_sent,
)
from tests.integration.runtime.test_inspect_queues import (
    test_consumers_counts_only_live_workers,
    test_inspect_queues_table_names_each_queue,
)
from tests.integration.runtime.test_retries import (
    test_exhausted_retries_end_in_the_dlq,
    test_retry_with_countdown,
)

__all__ = [
    "test_consumers_counts_only_live_workers",
    "test_delay_then_get_returns_the_value",
    "test_dlq_inspect_replay_purge",
    "test_eta_is_a_countdown_on_the_server_clock",
    "test_exhausted_retries_end_in_the_dlq",
    "test_failure_carries_the_remote_error",
    "test_inspect_queues_table_names_each_queue",
    "test_resending_a_delayed_task_id_schedules_it_once",
    "test_retry_with_countdown",
    "test_routing_by_glob_keeps_queues_apart",
    "test_send_many_skips_ids_already_sent",
    "test_sync_task_runs_in_the_worker",
    "test_unknown_id_is_pending",
]
