"""Sentry error reports of task failures (the ``waasp[sentry]`` extra).

A Sentry integration, enabled the usual way::

    import sentry_sdk
    from waasp.runtime.contrib.sentry import WaaspIntegration

    sentry_sdk.init(dsn=..., integrations=[WaaspIntegration()])

Each task that fails for good is reported (through the ``task_failure`` signal) with the task's
name and id as tags and its arguments, bounded in size, in a ``waasp task`` context. Failed
attempts that will be retried are not reported unless ``report_retries=True``.
"""

from __future__ import annotations

import reprlib
from typing import Any

try:
    import sentry_sdk
    from sentry_sdk.integrations import Integration
    from sentry_sdk.utils import event_from_exception
except ImportError as exc:  # pragma: no cover - the extra is installed in the test env
    raise ImportError(
        "waasp.runtime.contrib.sentry needs the Sentry SDK: pip install 'waasp[sentry]'"
    ) from exc

from waasp.runtime import signals

# Arguments go to Sentry as bounded reprs: a task's payload can be megabytes.
_REPR = reprlib.Repr()
_REPR.maxstring = 500
_REPR.maxother = 200
_REPR.maxlevel = 4
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 20


def bounded(value: Any) -> str:
    """``value``'s repr, cut short past a few hundred characters or a few levels."""
    return _REPR.repr(value)


class WaaspIntegration(Integration):
    """Reports the runtime's task failures (and, if asked, retries) to Sentry."""

    identifier = "waasp_runtime"

    def __init__(self, *, report_retries: bool = False, include_args: bool = True) -> None:
        self.report_retries = report_retries
        self.include_args = include_args

    @staticmethod
    def setup_once() -> None:
        """Connect the receivers (once per process; they do nothing while no Sentry client
        has this integration)."""
        signals.task_failure.connect(_on_failure)
        signals.task_retry.connect(_on_retry)


def _active() -> WaaspIntegration | None:
    return sentry_sdk.get_client().get_integration(WaaspIntegration)


def _on_failure(task: Any, exception: BaseException, request: Any, **_: Any) -> None:
    integration = _active()
    if integration is not None:
        _capture(integration, exception, task, request, retrying=False)


def _on_retry(task: Any, reason: BaseException | None, request: Any, **_: Any) -> None:
    integration = _active()
    if integration is not None and integration.report_retries and reason is not None:
        _capture(integration, reason, task, request, retrying=True)


def _capture(
    integration: WaaspIntegration,
    exception: BaseException,
    task: Any,
    request: Any,
    *,
    retrying: bool,
) -> None:
    client = sentry_sdk.get_client()
    event, hint = event_from_exception(
        exception,
        client_options=client.options,
        mechanism={"type": "waasp_runtime", "handled": False},
    )
    details: dict[str, Any] = {
        "id": request.id,
        "name": task.name,
        "retries": request.retries,
        "queue": request.delivery_info.get("queue"),
        "worker": request.hostname,
        "retrying": retrying,
    }
    if integration.include_args:
        details["args"] = bounded(request.args)
        details["kwargs"] = bounded(request.kwargs)
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("waasp.task", task.name)
        scope.set_tag("waasp.task_id", request.id)
        scope.set_context("waasp task", details)
        sentry_sdk.capture_event(event, hint=hint)
