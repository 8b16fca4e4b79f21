"""``python -m benchmarks run``: WAASP against its peers and raw Redis, in one run."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks import harness, report
from benchmarks.adapters import SYSTEMS


def _names(choices: list[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = sorted(set(names) - set(choices))
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown: {', '.join(unknown)} (choose from {', '.join(choices)})"
            )
        return names

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the comparison and write the report")
    run.add_argument(
        "--systems",
        type=_names(list(SYSTEMS)),
        default=None,
        help="comma-separated (default: all; with --quick: waasp,raw,rawbatch)",
    )
    run.add_argument(
        "--scenarios",
        type=_names(harness.DEFAULT_SCENARIOS),
        default=None,
        help="comma-separated (default: all; with --quick: all but sleep, rss and check)",
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help="waasp and the raw loops only, without the slow scenarios: for iterating",
    )
    run.add_argument("--tasks", type=int, default=10_000, help="N for enqueue and drain")
    run.add_argument("--reps", type=int, default=3)
    run.add_argument("--latency-tasks", type=int, default=1000)
    run.add_argument("--delay-tasks", type=int, default=200)
    run.add_argument("--mass-tasks", type=int, default=10_000, help="N_mass for delay_mass")
    run.add_argument("--sleep-tasks", type=int, default=500)
    run.add_argument("--rss-tasks", type=int, default=100_000)
    run.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    run.add_argument(
        "--redis5-python",
        type=Path,
        default=None,
        help="python of an existing venv with arq, saq and redis<6 "
        "(default: create benchmarks/.venv-redis5)",
    )
    run.add_argument("--timeout", type=float, default=900, help="seconds per measurement")
    run.add_argument("--out", type=Path, default=harness.ROOT / "benchmarks" / "results")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.systems is None:
        args.systems = harness.QUICK_SYSTEMS if args.quick else list(SYSTEMS)
    if args.scenarios is None:
        args.scenarios = harness.QUICK_SCENARIOS if args.quick else harness.DEFAULT_SCENARIOS
    if "raw" not in args.systems:
        sys.stderr.write("note: without raw, no ratios to raw Redis are given\n")
    results = harness.run(args)
    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m benchmarks " + shlex.join(sys.argv[1:]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "params": {
            k: v
            for k, v in vars(args).items()
            if k
            in (
                "tasks",
                "reps",
                "latency_tasks",
                "delay_tasks",
                "mass_tasks",
                "sleep_tasks",
                "rss_tasks",
            )
        },
        "versions": {
            **harness.versions(Path(sys.executable)),
            **(
                harness.versions(harness.python_for("arq", args.redis5_python))
                if {"arq", "saq"} & set(args.systems)
                else {}
            ),
        },
    }
    print(report.write(results, args.systems, meta, args.out))


if __name__ == "__main__":
    main()
