"""The settings every app module reads from the environment the harness gives it."""

from __future__ import annotations

import os

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = os.environ.get("BENCH_PREFIX", "benchidle")
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
RESULT_TTL = 3600
