"""Window counters: the first event opens a key's window, later ones are counted, the count
is taken once; every key lives under the prefix, in one hash slot, and expires."""

from __future__ import annotations

import asyncio

import pytest

from waasp.runtime import ConfigurationError, Runtime


async def test_first_event_opens_later_ones_are_counted_and_taken_once(runtime: Runtime) -> None:
    """One window per key: open, then counted 1, 2; take gives 2, then 0."""
    windows = runtime.windows("bursts", 30.0)
    first, second, third = [await windows.hit("sender\0a") for _ in range(3)]
    assert first.opened and not second.opened and not third.opened
    assert (second.count, third.count) == (1, 2)
    assert 0 < third.left <= 30.0
    assert (await windows.hit("sender\0b")).opened  # another key, another window
    assert await windows.take("sender\0a") == 2
    assert await windows.take("sender\0a") == 0


async def test_a_closed_window_opens_again(runtime: Runtime) -> None:
    """After ``length`` seconds the next event opens a new window."""
    windows = runtime.windows("short", 0.2)
    assert (await windows.hit("k")).opened
    assert not (await windows.hit("k")).opened
    await asyncio.sleep(0.3)
    assert (await windows.hit("k")).opened


async def test_keys_are_under_the_prefix_share_a_slot_and_expire(runtime: Runtime) -> None:
    """Both keys of a window start with the prefix, share one hash tag and carry a TTL."""
    windows = runtime.windows("ttl", 10.0)
    await windows.hit("k")
    await windows.hit("k")
    client = runtime.broker.client
    pattern = f"{runtime.conf.key_prefix}:window:*"
    keys = [k.decode() async for k in client.scan_iter(match=pattern)]
    assert len(keys) == 2
    assert len({key[key.index("{") : key.index("}")] for key in keys}) == 1
    for key in keys:
        assert 0 < await client.pttl(key) <= 30_000


@pytest.mark.parametrize("name", ["", "a b", "{x}", "a:b"])
def test_bad_names_are_refused(name: str) -> None:
    """A name that would break the key layout is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="window counter name"):
        Runtime("x", environ={}).windows(name, 1.0)
