"""A pure-asyncio task runtime on Redis Streams."""
