"""Readiness probes for /readyz: each is a name and an async check that raises."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from waasp.runtime import Runtime, Worker

log = structlog.get_logger(__name__)

PROBE_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class ReadinessProbe:
    """A dependency /readyz waits for: ``check`` returns when it is usable, raises when not."""

    name: str
    check: Callable[[], Awaitable[None]]


async def _outcome(probe: ReadinessProbe, seconds: float) -> str:
    try:
        async with asyncio.timeout(seconds):
            await probe.check()
    except TimeoutError:
        return f"no answer within {seconds:g}s"
    except Exception as exc:
        # /readyz needs no token: the error itself (addresses, driver messages) is logged only.
        log.warning("readiness_probe_failed", probe=probe.name, error=str(exc) or repr(exc))
        return "unavailable"
    return "ok"


async def run_probes(
    probes: Sequence[ReadinessProbe], seconds: float = PROBE_TIMEOUT
) -> dict[str, str]:
    """Run every probe at once; map each name to "ok" or why it failed."""
    outcomes = await asyncio.gather(*(_outcome(probe, seconds) for probe in probes))
    return {probe.name: outcome for probe, outcome in zip(probes, outcomes, strict=True)}


def redis_probe(runtime: Runtime) -> ReadinessProbe:
    """The task runtime's broker answers PING."""

    async def check() -> None:
        await runtime.ping()

    return ReadinessProbe("redis", check)


def worker_probe(worker: Worker) -> ReadinessProbe:
    """The in-process worker's event loop is not stalled (busy executors are not a stall)."""

    async def check() -> None:
        if worker.heartbeat.stalled or worker.loop_age() > worker.heartbeat.stall_after:
            raise RuntimeError(f"worker event loop stalled for {worker.loop_age():.0f}s")

    return ReadinessProbe("worker", check)
