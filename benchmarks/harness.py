"""Schedule the measurements, repeat them, keep their statistics, show progress.

Every measurement runs in a fresh ``python -m benchmarks.runner`` process of the system's
virtualenv (this one, or the redis<6 one for arq and saq that is created on first use), one
after another on the same Redis, so no system's state or import cost leaks into another's.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.adapters import SYSTEMS

ROOT = Path(__file__).resolve().parents[1]
REDIS5_VENV = ROOT / "benchmarks" / ".venv-redis5"
REDIS5_PACKAGES = [
    "arq",
    "saq",
    "redis[hiredis]>=5,<6",
    "psutil",
    # saq imports typing_extensions without declaring it
    "typing_extensions",
]


@dataclass(frozen=True, slots=True)
class Metric:
    """One row of the table."""

    key: str
    label: str
    unit: str
    higher_is_better: bool


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named measurement: the runner's scenario, its parameters, the rows it yields."""

    name: str
    title: str
    runner: str
    params: Callable[[Any], dict[str, Any]]
    metrics: tuple[Metric, ...]
    only: tuple[str, ...] = ()  # if set, the systems it runs for
    max_reps: int | None = None  # a cap on --reps for scenarios that take minutes


RATE = (Metric("rate", "", "tasks/s", True),)
PERCENTILES = (
    Metric("p50", "p50", "ms", False),
    Metric("p99", "p99", "ms", False),
    Metric("max", "max", "ms", False),
)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("enqueue", "enqueue, one by one", "enqueue", lambda a: {"n": a.tasks}, RATE),
        Scenario("bulk", "enqueue, bulk API", "bulk", lambda a: {"n": a.tasks}, RATE),
        Scenario(
            "drain1",
            "drain N no-ops, 1 worker process",
            "drain",
            lambda a: {"n": a.tasks, "processes": 1},
            RATE,
        ),
        Scenario(
            "drain2",
            "drain N no-ops, 2 worker processes",
            "drain",
            lambda a: {"n": a.tasks, "processes": 2},
            RATE,
        ),
        Scenario(
            "drain4",
            "drain N no-ops, 4 worker processes",
            "drain",
            lambda a: {"n": a.tasks, "processes": 4},
            RATE,
        ),
        Scenario(
            "latency",
            "enqueue-to-start latency at 200 tasks/s",
            "latency",
            lambda a: {"n": a.latency_tasks},
            PERCENTILES,
        ),
        Scenario(
            "latency_drained",
            "enqueue-to-start latency at 200 tasks/s, right after the worker drained N",
            "latency_drained",
            lambda a: {"n": a.latency_tasks, "drained": a.tasks},
            PERCENTILES,
        ),
        Scenario(
            "delay",
            "lateness of 1 s-delayed tasks, sent at 200/s",
            "delay",
            lambda a: {"n": a.delay_tasks},
            PERCENTILES,
        ),
        Scenario(
            "delay_burst",
            "lateness of 1 s-delayed tasks, sent back to back",
            "delay_burst",
            lambda a: {"n": a.delay_tasks},
            PERCENTILES,
        ),
        Scenario(
            "delay_mass",
            "lateness of N_mass delayed tasks due within one second",
            "delay_mass",
            lambda a: {"n": a.mass_tasks},
            PERCENTILES,
        ),
        Scenario(
            "sleep",
            "1 s-sleep tasks at concurrency 100 (ideal 100/s)",
            "sleep",
            lambda a: {"n": a.sleep_tasks},
            RATE,
        ),
        Scenario(
            "rss",
            "worker RSS and Redis memory over N_rss tasks",
            "rss",
            lambda a: {"n": a.rss_tasks},
            (
                Metric("rss_tenth", "RSS at N/10", "MiB", False),
                Metric("rss_end", "RSS at N", "MiB", False),
                Metric("growth", "RSS growth N/10→N", "%", False),
                Metric("redis_mb", "Redis used_memory growth", "MiB", False),
            ),
            only=("waasp",),
            max_reps=1,
        ),
    )
}
CHECK = "check"
DEFAULT_SCENARIOS = [*SCENARIOS, CHECK]
# ``--quick``: waasp and the two raw loops, without the scenarios that take minutes
QUICK_SYSTEMS = ["waasp", "raw", "rawbatch"]
QUICK_SCENARIOS = [s for s in SCENARIOS if s not in ("sleep", "rss")]


@dataclass
class Results:
    """Every repetition's metrics, by scenario and system; and what failed."""

    values: dict[str, dict[str, list[dict[str, float]]]] = field(default_factory=dict)
    unsupported: dict[str, set[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    check: dict[str, Any] = field(default_factory=dict)

    def add(self, scenario: str, system: str, metrics: dict[str, float] | None) -> None:
        if metrics is None:
            self.unsupported.setdefault(scenario, set()).add(system)
        else:
            self.values.setdefault(scenario, {}).setdefault(system, []).append(metrics)

    def reps(self, scenario: str, system: str, metric: str) -> list[float]:
        """One metric's value in every repetition, in the order they ran."""
        return [m[metric] for m in self.values.get(scenario, {}).get(system, []) if metric in m]

    def stats(self, scenario: str, system: str, metric: str) -> dict[str, float] | None:
        """Median, min and max of one metric over the repetitions."""
        reps = self.reps(scenario, system, metric)
        if not reps:
            return None
        return {
            "median": statistics.median(reps),
            "min": min(reps),
            "max": max(reps),
            "n": len(reps),
        }


# -- virtualenvs ----------------------------------------------------------------------------


def python_for(system: str, redis5_python: Path | None) -> Path:
    """The interpreter a system is measured with (creating the redis<6 venv on demand)."""
    if SYSTEMS[system][2] == "main":
        return Path(sys.executable)
    if redis5_python is not None:
        return redis5_python
    python = REDIS5_VENV / "bin" / "python"
    if not python.exists():
        sys.stderr.write(f"creating {REDIS5_VENV} for arq and saq (redis-py < 6)...\n")
        subprocess.run([sys.executable, "-m", "venv", str(REDIS5_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REDIS5_PACKAGES], check=True)
    return python


def versions(python: Path) -> dict[str, str]:
    """Installed versions of the measured libraries in one virtualenv."""
    code = (
        "import importlib.metadata as m, json\n"
        "out = {}\n"
        "for d in ('waasp','celery','kombu','dramatiq','taskiq','taskiq-redis','streaq',"
        "'arq','saq','redis','hiredis','coredis'):\n"
        "    try: out[d] = m.version(d)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return dict(json.loads(done.stdout)) if done.returncode == 0 else {}


# -- running ----------------------------------------------------------------------------------


def run_one(
    python: Path, system: str, runner: str, params: dict[str, Any], url: str, timeout: float
) -> dict[str, float] | None:
    """One repetition in a fresh process; its metrics (None: unsupported)."""
    argv = [
        str(python),
        "-m",
        "benchmarks.runner",
        system,
        runner,
        "--params",
        json.dumps(params),
        "--redis-url",
        url,
    ]
    done = subprocess.run(
        argv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"{system} {runner}: exit {done.returncode}: {tail}")
    result: dict[str, float] | None = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def plan(systems: list[str], scenarios: list[str], reps: int) -> Iterator[tuple[str, int, str]]:
    """(scenario, repetition, system): every system once per repetition, so drift in the
    machine's load spreads over all systems instead of landing on one."""
    for name in scenarios:
        spec = SCENARIOS[name]
        chosen = [s for s in systems if not spec.only or s in spec.only]
        for rep in range(min(reps, spec.max_reps or reps)):
            for system in chosen:
                yield name, rep, system


def progress(total: int) -> Any:
    """A progress bar on stderr: tqdm if installed, else a plain one."""
    if importlib.util.find_spec("tqdm") is not None:
        from tqdm import tqdm

        return tqdm(total=total, file=sys.stderr, unit="run", dynamic_ncols=True)
    return _PlainBar(total)


class _PlainBar:
    def __init__(self, total: int) -> None:
        self.total, self.done, self.start = total, 0, time.monotonic()

    def set_description(self, text: str) -> None:
        self.text = text
        self._draw()

    def update(self, n: int) -> None:
        self.done += n
        self._draw()

    def _draw(self) -> None:
        filled = int(30 * self.done / max(1, self.total))
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} "
            f"{time.monotonic() - self.start:5.0f}s {getattr(self, 'text', '')}"
            "\033[K"
        )
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def run(args: Any) -> Results:
    """Run every scenario for every system ``args.reps`` times."""
    results = Results()
    named = [s for s in args.scenarios if s != CHECK]
    jobs = list(plan(args.systems, named, args.reps))
    pythons = {s: python_for(s, args.redis5_python) for s in args.systems}
    bar = progress(len(jobs) + (CHECK in args.scenarios))
    try:
        for name, rep, system in jobs:
            spec = SCENARIOS[name]
            bar.set_description(f"{name} {system} #{rep + 1}")
            try:
                metrics = run_one(
                    pythons[system],
                    system,
                    spec.runner,
                    spec.params(args),
                    args.redis_url,
                    args.timeout,
                )
                results.add(name, system, metrics)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                results.errors.append(f"{name} {system} #{rep + 1}: {exc}")
            bar.update(1)
        if CHECK in args.scenarios:
            bar.set_description("check endpoint")
            results.check = run_check(args)
            bar.update(1)
    finally:
        bar.close()
    return results


def run_check(args: Any) -> dict[str, Any]:
    """The check endpoint's scenario: ``python -m benchmarks.check`` (``waasp serve`` in 1 and
    2 processes against a minimal aiohttp + asyncpg endpoint, 16 and 64 connections), its
    Markdown table kept."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.check",
            "--rounds",
            str(args.reps),
            "--redis-url",
            args.redis_url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=args.timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return {"table": done.stdout.strip()}
