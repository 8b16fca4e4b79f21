"""Run one measurement and print its metrics as JSON.

    python -m benchmarks.runner SYSTEM SCENARIO --tasks N [--processes P] --redis-url URL

The harness calls ``measure`` directly for systems of its own virtualenv, and this module
through the redis<6 virtualenv's python for arq and saq. Stdlib and redis-py only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import uuid
from typing import Any

from benchmarks.adapters import Unsupported, adapter_class
from benchmarks.scenarios import SCENARIOS, Metrics, Session


def fresh_prefix(system: str) -> str:
    """A key prefix private to one measurement."""
    return f"bench-{system}-{uuid.uuid4().hex[:8]}"


async def measure(system: str, scenario: str, url: str, **params: Any) -> Metrics | None:
    """One repetition of ``scenario`` for ``system``; None if the system cannot do it."""
    os.environ["BENCH_PROBE_URL"] = url
    prefix = fresh_prefix(system)
    adapter = adapter_class(system)(url, prefix, f"{prefix}:probe")
    session = Session(adapter, url)
    try:
        return await SCENARIOS[scenario](session, **params)
    except Unsupported:
        return None
    finally:
        await session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("system")
    parser.add_argument("scenario")
    parser.add_argument("--params", default="{}", help="JSON keyword arguments")
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(
        measure(args.system, args.scenario, args.redis_url, **json.loads(args.params))
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
