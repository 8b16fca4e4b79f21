"""What an executor is running, as the watchdog, the drain and the revoke watch see it."""

from __future__ import annotations

from dataclasses import dataclass

from waasp.runtime.worker.threads import ThreadCall


@dataclass(slots=True)
class Running:
    """What an executor runs: the watchdog names it, the drain waits for its thread, the
    revoke watch marks it revoked (and, to terminate it, cancels an async one)."""

    task: str
    task_id: str
    thread: ThreadCall | None = None
    is_async: bool = True
    revoked: bool = False  # revoked while it runs: ``self.request.is_revoked()``
    terminate: bool = False  # revoked with terminate=True: its outcome is REVOKED
    cancelled: bool = False  # the revoke watch cancelled its executor to stop it

    def is_revoked(self) -> bool:
        """Tell whether the task was revoked while it runs (as this worker last learned)."""
        return self.revoked
