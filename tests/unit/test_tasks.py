"""waasp.tasks: importing builds nothing, each process builds one runtime, tasks keep their
natural names, routes and schedule."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest

import waasp.tasks
from waasp.runtime import ConfigurationError
from waasp.settings import Settings
from waasp.tasks import WaaspRuntime

NAMES = [
    "waasp.tasks.aggregate_audit_stats",
    "waasp.tasks.cleanup_old_audit_logs",
    "waasp.tasks.notify_blocked_followup",
    "waasp.tasks.notify_blocked_sender",
    "waasp.tasks.notify_deliver",
    "waasp.tasks.notify_summary",
    "waasp.tasks.send_webhook",
]


@pytest.fixture
def tasks_module() -> Iterator[ModuleType]:
    """waasp.tasks as a fresh process sees it: no runtime built; forgotten again afterwards."""
    assert "runtime" not in vars(waasp.tasks)
    yield waasp.tasks
    vars(waasp.tasks).pop("runtime", None)


def test_import_builds_nothing(tasks_module: ModuleType) -> None:
    """The module holds no runtime until one is asked for."""
    assert "runtime" not in vars(tasks_module)


def test_runtime_is_built_once_from_the_environment(
    tasks_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``waasp.tasks.runtime`` is built on first use from WAASP_* and is then the same one."""
    monkeypatch.setenv("WAASP_KEY_PREFIX", "from-env")
    first = tasks_module.runtime
    assert isinstance(first, WaaspRuntime)
    assert first.conf.key_prefix == "from-env"
    assert tasks_module.runtime is first


def test_configure_builds_the_process_runtime_once(tasks_module: ModuleType) -> None:
    """``configure(settings)`` builds the runtime ``waasp.tasks.runtime`` then names; a second
    one in the same process is refused."""
    built = tasks_module.configure(Settings(redis_url="redis://r:1/0", key_prefix="up"))
    assert tasks_module.runtime is built
    assert (built.conf.broker_url, built.conf.key_prefix) == ("redis://r:1/0", "up")
    with pytest.raises(RuntimeError, match="already built"):
        tasks_module.configure(Settings())


def test_a_bad_variable_is_a_configuration_error_naming_it(
    tasks_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime's command line reports a bad WAASP_* variable as one line naming it."""
    monkeypatch.setenv("WAASP_VISIBILITY_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match=r"^WAASP_VISIBILITY_TIMEOUT: "):
        tasks_module.runtime  # noqa: B018  # the attribute access is what builds it
    assert "runtime" not in vars(tasks_module)


def test_tasks_have_their_natural_names_and_handles() -> None:
    """Each task is named module.function, and the runtime holds its handle under that name."""
    runtime = WaaspRuntime(Settings())
    assert sorted(runtime.tasks) == NAMES
    for name in NAMES:
        handle = getattr(runtime, name.rpartition(".")[2])
        assert runtime.tasks[name] is handle
        assert handle.fn is getattr(waasp.tasks, name.rpartition(".")[2])


def test_settings_configure_routes_schedule_and_retries() -> None:
    """Notifications go to high, cleanup to low; the schedule uses the retention days."""
    settings = Settings(visibility_timeout=12.0, audit_retention_days=7, notify_max_retries=5)
    runtime = WaaspRuntime(settings)
    assert runtime.route("waasp.tasks.notify_blocked_sender") == "high"
    assert runtime.route("waasp.tasks.cleanup_old_audit_logs") == "low"
    assert runtime.route("waasp.tasks.send_webhook") == "default"
    assert runtime.conf.broker_visibility_timeout == 12.0
    assert runtime.conf.beat_schedule["cleanup-old-audit-logs"]["args"] == (7,)
    assert runtime.notify_deliver.max_retries == 5
    assert runtime.conf.task_track_started is True


def test_only_the_notification_tasks_store_no_result() -> None:
    """The notification tasks (the summary too) go to high and store no result, so a flood of
    blocked checks leaves no result keys; the other tasks keep theirs."""
    runtime = WaaspRuntime(Settings())
    quiet = {name for name, task in runtime.tasks.items() if task.ignore_result}
    assert quiet == {name for name in NAMES if name.startswith("waasp.tasks.notify_")}
    assert runtime.route("waasp.tasks.notify_summary") == "high"


def test_notifications_and_webhooks_expire() -> None:
    """A blocked-sender notification not started within 15 minutes is not run, a delivery
    within an hour, a webhook within six; maintenance tasks never expire."""
    runtime = WaaspRuntime(Settings())
    expires = {name: task.expires for name, task in runtime.tasks.items()}
    assert expires == {
        "waasp.tasks.notify_blocked_sender": 900.0,
        "waasp.tasks.notify_deliver": 3600.0,
        "waasp.tasks.send_webhook": 21600.0,
        # sent with a countdown: their expiry is the countdown plus 15 minutes, at the send
        "waasp.tasks.notify_blocked_followup": None,
        "waasp.tasks.notify_summary": None,
        "waasp.tasks.cleanup_old_audit_logs": None,
        "waasp.tasks.aggregate_audit_stats": None,
    }
    message = runtime.build_message("waasp.tasks.notify_blocked_sender", ("s",))
    assert message.expires == message.enqueued_at + 900.0


def test_webhook_posts_are_rate_limited_by_the_setting() -> None:
    """Both tasks that post to the webhook carry WAASP_WEBHOOK_RATE_LIMIT (default 10/s),
    shared by every worker; nothing else is rate limited."""
    default = WaaspRuntime(Settings())
    limited = {name: task.rate_limit for name, task in default.tasks.items() if task.rate_limit}
    assert limited == {"waasp.tasks.notify_deliver": "10/s", "waasp.tasks.send_webhook": "10/s"}
    slower = WaaspRuntime(Settings.from_env({"WAASP_WEBHOOK_RATE_LIMIT": "30/m"}))
    assert slower.send_webhook.rate == pytest.approx(0.5)
