"""GET /metrics: Prometheus text that prometheus-client parses, with counters that move."""

from __future__ import annotations

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.app.conftest import AUTH, Client, ClientFactory
from tests.integration.app.test_monitor_api import Tasks, burst, closed_port
from waasp.api.metrics import Metrics
from waasp.runtime import Runtime

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: Client, headers: dict[str, str] | None = AUTH) -> Samples:
    """GET /metrics (with the token), parse it with prometheus-client, index the samples by
    name and labels."""
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent, as Prometheus would read a missing series)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_task_counters_move_when_tasks_run(
    make_client: ClientFactory, runtime: Runtime
) -> None:
    """Tasks by name and state, run-time histograms and queue gauges follow the runtime."""
    tasks = Tasks(runtime)
    client = await make_client(runtime=runtime)
    before = await scrape(client)
    assert value(before, "waasp_redis_up") == 1
    ok = "tests.monitor.ok"
    assert value(before, "waasp_tasks_total", task=ok, state="succeeded") == 0
    await runtime.send_many([tasks.ok.s(i) for i in range(3)])
    await tasks.boom.delay()
    await tasks.ok.apply_async((1,), countdown=600)
    queued = await scrape(client)
    assert value(queued, "waasp_queue_waiting", queue="default") == 4
    assert value(queued, "waasp_queue_delayed", queue="default") == 1
    await burst_until_delayed_only(runtime)
    after = await scrape(client)
    assert value(after, "waasp_tasks_total", task=ok, state="succeeded") == 3
    assert value(after, "waasp_tasks_total", task=ok, state="started") == 3
    assert value(after, "waasp_tasks_total", task="tests.monitor.boom", state="failed") == 1
    assert value(after, "waasp_task_runtime_seconds_count", task=ok) == 3
    assert value(after, "waasp_task_runtime_seconds_bucket", task=ok, le="+Inf") == 3
    assert value(after, "waasp_task_runtime_seconds_sum", task=ok) > 0
    assert value(after, "waasp_queue_waiting", queue="default") == 0
    assert value(after, "waasp_queue_dead", queue="default") == 1
    assert value(after, "waasp_queue_in_flight", queue="default") == 0
    assert ("waasp_workers", frozenset()) in after


async def test_trimmed_dead_letters_are_counted(
    make_client: ClientFactory, runtime: Runtime
) -> None:
    """Dead letters the dlq_max_len cap removed are exported as a counter per queue."""
    runtime.conf.update(dlq_max_len=2)
    client = await make_client(runtime=runtime)
    for i in range(5):
        await runtime.dlq.send("tests.monitor.ok", (i,))
    samples = await scrape(client)
    assert value(samples, "waasp_dead_letters_trimmed_total", queue="default") == 3
    assert value(samples, "waasp_queue_dead", queue="default") == 2


async def burst_until_delayed_only(runtime: Runtime) -> None:
    """Run the waiting tasks; the delayed one stays (a burst worker would wait for it)."""
    await runtime.broker.client.rename(
        runtime.keys.queue("default").delayed, runtime.keys.queue("default").delayed + ":held"
    )
    await burst(runtime)
    await runtime.broker.client.rename(
        runtime.keys.queue("default").delayed + ":held", runtime.keys.queue("default").delayed
    )


async def test_http_and_check_metrics(make_client: ClientFactory, runtime: Runtime) -> None:
    """HTTP requests are counted by route template and status; checks by outcome and time."""
    client = await make_client(runtime=runtime)
    await client.get("/healthz")
    await client.get("/api/v1/contacts/someone", headers=AUTH)  # 404: no such contact
    await client.get("/no/such/path")
    blocked = await client.post("/api/v1/check", json={"sender_id": "+15550100"})
    assert blocked.status == 200
    samples = await scrape(client)
    requests = "waasp_http_requests_total"
    assert value(samples, requests, route="/healthz", method="GET", status="200") == 1
    template = "/api/v1/contacts/{sender_id}"
    assert value(samples, requests, route=template, method="GET", status="404") == 1
    assert value(samples, requests, route="unmatched", method="GET", status="404") == 1
    assert value(samples, requests, route="/api/v1/check", method="POST", status="200") == 1
    assert value(samples, "waasp_check_decisions_total", outcome="blocked") == 1
    assert value(samples, "waasp_check_latency_seconds_count") == 1
    again = await scrape(client)
    assert value(again, requests, route="/metrics", method="GET", status="200") == 1


async def test_check_errors_are_counted(make_client: ClientFactory) -> None:
    """A check that cannot be decided (PostgreSQL down) counts as outcome "error"."""
    client = await make_client(database_url=f"postgresql://127.0.0.1:{closed_port()}/none")
    response = await client.post("/api/v1/check", json={"sender_id": "+15550100"})
    assert response.status == 503
    samples = await scrape(client)
    assert value(samples, "waasp_check_decisions_total", outcome="error") == 1


async def test_enqueue_failures_are_counted(make_client: ClientFactory) -> None:
    """The Metrics object handed to create_app is the one /metrics exports."""
    metrics = Metrics()
    client = await make_client(metrics=metrics)
    metrics.enqueue_failed("waasp.tasks.notify_blocked_sender")
    metrics.enqueue_failed("waasp.tasks.notify_blocked_sender")
    samples = await scrape(client)
    task = "waasp.tasks.notify_blocked_sender"
    assert value(samples, "waasp_enqueue_failures_total", task=task) == 2


async def test_without_runtime_only_process_metrics(client: Client) -> None:
    """Without a runtime, /metrics still answers, with this process's metrics only."""
    samples = await scrape(client)
    names = {name for name, _ in samples}
    assert "waasp_redis_up" not in names and "waasp_tasks_total" not in names


async def test_redis_down_is_a_gauge_not_an_error(make_client: ClientFactory) -> None:
    """With Redis unreachable /metrics answers 200 with waasp_redis_up 0."""
    down = Runtime("waasp", broker_url=f"redis://127.0.0.1:{closed_port()}/0", environ={})
    try:
        client = await make_client(runtime=down)
        samples = await scrape(client)
        assert value(samples, "waasp_redis_up") == 0
        assert not any(name.startswith("waasp_queue_") for name, _ in samples)
    finally:
        await down.close()


async def test_token_unless_public(make_client: ClientFactory) -> None:
    """By default /metrics is 401 without the token, 403 with a wrong one, 200 with it; with
    WAASP_METRICS_PUBLIC it needs none."""
    client = await make_client()
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer nope"})).status == 403
    await scrape(client, AUTH)
    open_client = await make_client(metrics_public=True)
    await scrape(open_client, None)


async def test_each_app_has_its_own_registry(make_client: ClientFactory) -> None:
    """Two apps in one process never see each other's counts."""
    first, second = await make_client(), await make_client()
    await first.get("/healthz")
    samples = await scrape(second)
    requests = "waasp_http_requests_total"
    assert value(samples, requests, route="/healthz", method="GET", status="200") == 0


async def test_openmetrics_on_request(make_client: ClientFactory, runtime: Runtime) -> None:
    """A scraper that asks for OpenMetrics gets it, and prometheus-client parses it."""
    client = await make_client(runtime=runtime)
    headers = {**AUTH, "Accept": "application/openmetrics-text"}
    response = await client.get("/metrics", headers=headers)
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    text = await response.text()
    # prometheus-client's OpenMetrics parser has no annotations.
    families = openmetrics_families(text)  # type: ignore[no-untyped-call]
    names = {family.name for family in families}
    assert {"waasp_redis_up", "waasp_http_requests", "waasp_tasks"} <= names
