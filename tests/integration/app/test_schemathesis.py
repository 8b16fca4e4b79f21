"""Schemathesis against /api/v1/openapi.json of a live create_app server: every operation,
generated from the document (valid and invalid data), answered without a 5xx and as the
document says."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.app.conftest import AUTH
from waasp.api import create_app
from waasp.api.server import start_server
from waasp.runtime import Runtime
from waasp.settings import Settings

EXAMPLES = 300
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def live_url(settings: Settings, redis_url: str) -> Iterator[str]:
    """The base URL of create_app (with a task runtime under a fresh key prefix) served as
    `waasp serve` serves it, on a free port by a thread of its own, so that schemathesis's
    blocking client can call it."""
    loop = asyncio.new_event_loop()
    runtime = Runtime("waasp", broker_url=redis_url, key_prefix=f"st{secrets.token_hex(5)}")
    app = create_app(settings, runtime=runtime)
    runner, url = loop.run_until_complete(start_server(app, "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(15)
        asyncio.run_coroutine_threadsafe(runtime.close(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        loop.close()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    live_url: str, mode: GenerationMode
) -> None:
    """Every operation of the OpenAPI document, fed generated valid (positive) or invalid
    (negative) data with the token: never a 5xx; status, content type and body as documented."""
    schema = schemathesis.openapi.from_url(f"{live_url}/api/v1/openapi.json")
    assert len(list(schema.get_all_operations())) >= 8

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=schema.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case[Any]) -> None:
        response = case.call(base_url=live_url, headers=AUTH)
        statuses[response.status_code // 100] += 1
        case.validate_response(response, checks=CHECKS)

    statuses: Counter[int] = Counter()
    run()
    assert statuses.total() >= EXAMPLES // 2, statuses
    assert statuses[2 if mode is GenerationMode.POSITIVE else 4] > 0, statuses
    print(f"schemathesis {mode.value}: responses by class {dict(statuses)}")
