"""Raw Redis: the redis-py Streams loops of ``benchmarks.raw_streams``, per message and batched."""

from __future__ import annotations

import sys

from benchmarks import raw_streams
from benchmarks.adapters.base import Adapter, Unsupported


class RawAdapter(Adapter):
    name = "raw"
    results = "yes (SET EX 3600 per message)"
    notes = "no delays, no concurrency: one message at a time"

    def __init__(self, url: str, prefix: str, probe_key: str) -> None:
        super().__init__(url, prefix, probe_key)
        self.client = raw_streams.connect(url)
        self.stream = f"{prefix}:stream"

    async def open(self) -> None:
        await raw_streams.ensure_group(self.client, self.stream)

    async def close(self) -> None:
        await self.client.aclose()

    async def send(self, task: str, *args: float) -> None:
        if task == "sleep1":
            raise Unsupported("the raw loop runs one message at a time")
        fields = {"sent_at": args[0]} if task == "late" else {}
        await self.client.xadd(self.stream, {"message": raw_streams.body(**fields)})

    async def send_bulk(self, n: int, task: str = "noop") -> None:
        if task != "noop":
            raise Unsupported("bulk no-ops only")
        await raw_streams.enqueue_pipelined(self.client, self.stream, n)

    def worker_argv(self, concurrency: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "benchmarks.raw_streams",
            self.url,
            self.stream,
            f"{self.prefix}:result",
        ]


class RawBatchedAdapter(RawAdapter):
    """The batched raw loop: one XACK + XDEL + SETs pipeline per XREADGROUP of up to 100."""

    name = "rawbatch"
    notes = "no delays, no concurrency: one pipeline settles each batch of up to 100"

    def worker_argv(self, concurrency: int) -> list[str]:
        return [*super().worker_argv(concurrency), "--batched"]
