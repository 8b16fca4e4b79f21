"""The Redis key layout."""

from __future__ import annotations

import pytest

from waasp.runtime import ConfigurationError
from waasp.runtime.keys import Keys, check_queue_name


def test_queue_keys_share_one_hash_tag() -> None:
    """Every key of a queue carries the ``{queue}`` hash tag (one Cluster slot)."""
    q = Keys("waasp").queue("default")
    assert q.stream == "waasp:{default}:stream"
    assert q.delayed == "waasp:{default}:delayed"
    assert q.dead == "waasp:{default}:dead"
    assert q.wake == "waasp:{default}:wake"
    assert q.cron("cleanup") == "waasp:{default}:cron:cleanup"
    assert q.sent("order-17") == "waasp:{default}:sent:order-17"
    assert q.starts == "waasp:{default}:starts"
    for key in (q.stream, q.delayed, q.dead, q.wake, q.cron("x"), q.sent("{x}"), q.starts):
        assert key.split("{", 1)[1].split("}", 1)[0] == "default"


def test_global_keys_start_with_the_prefix() -> None:
    """Result, worker and registry keys begin with the prefix."""
    keys = Keys("test-1")
    assert keys.result("abc") == "test-1:result:abc"
    assert keys.worker("host:1") == "test-1:{workers}:host:1"
    assert keys.workers == "test-1:{workers}"
    assert keys.queues == "test-1:queues"
    assert keys.events == "test-1:{events}:stream"
    assert keys.events_shard(3).events == "test-1:{events:3}:stream"
    assert keys.events_shard(0) == keys
    assert keys.failures == "test-1:{events}:failures"
    assert keys.event_counts == "test-1:{events}:counts"


@pytest.mark.parametrize("name", ["default", "high", "a.b-c_d", "x" * 100])
def test_valid_queue_names(name: str) -> None:
    """Letters, digits, '.', '_' and '-' up to 100 characters are valid queue names."""
    assert check_queue_name(name) == name


@pytest.mark.parametrize("name", ["", "has space", "br{ace}", "x" * 101, "colon:name", "é"])
def test_invalid_queue_names(name: str) -> None:
    """Anything else is rejected, so a name can never break the key layout."""
    with pytest.raises(ConfigurationError):
        Keys("waasp").queue(name)
