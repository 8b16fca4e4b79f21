"""The Lua scripts, loaded once from the ``.lua`` files beside this module."""

from __future__ import annotations

from importlib import resources

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

SCRIPT_NAMES = (
    "schedule",
    "promote",
    "settle",
    "reclaim",
    "renew",
    "release",
    "replay",
    "heartbeat",
    "fire_tick",
    "record_events",
)


def read_script(name: str) -> str:
    """Return the source of ``lua/<name>.lua``."""
    return resources.files("waasp.runtime.broker").joinpath(f"lua/{name}.lua").read_text("utf-8")


class Scripts:
    """The registered scripts of one Redis client, by name."""

    def __init__(self, client: Redis) -> None:
        self._scripts: dict[str, AsyncScript] = {
            name: client.register_script(read_script(name)) for name in SCRIPT_NAMES
        }

    def __getitem__(self, name: str) -> AsyncScript:
        return self._scripts[name]
