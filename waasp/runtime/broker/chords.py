"""Chord counters: which members of a chord have finished, with their results, in one hash
per chord (one key, so each script touches one Redis Cluster slot)."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from waasp.runtime.broker.scripts import read_script
from waasp.runtime.keys import Keys


class ChordStore:
    """The chords of one key prefix, on the broker."""

    def __init__(self, client: Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._done = client.register_script(read_script("chord_done"))
        self._fail = client.register_script(read_script("chord_fail"))

    async def member_done(
        self, chord_id: str, index: int, size: int, result: bytes, ttl_ms: int
    ) -> Sequence[bytes] | None:
        """Count member ``index`` of ``size`` finished with ``result`` (JSON) once however
        often it is redelivered (``lua/chord_done.lua``); return every member's result, in
        order, when all have finished and the chord has not failed, else None."""
        reply = await self._done(
            keys=[self.keys.chord(chord_id)], args=[index, size, result, ttl_ms]
        )
        return list(reply) if isinstance(reply, list) else None

    async def fail(self, chord_id: str, size: int, ttl_ms: int) -> bool:
        """Mark the chord failed unless every member had finished (``lua/chord_fail.lua``);
        return whether it is failed."""
        reply = await self._fail(keys=[self.keys.chord(chord_id)], args=[size, ttl_ms])
        return bool(int(reply))

    async def forget(self, chord_id: str) -> None:
        """Delete the chord's counter."""
        await self.client.delete(self.keys.chord(chord_id))
