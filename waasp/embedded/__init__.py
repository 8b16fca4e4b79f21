"""Bundled Redis-compatible (Valkey) and PostgreSQL servers for when no URL is configured.

``waasp up`` uses them when ``WAASP_REDIS_URL`` / ``WAASP_DATABASE_URL`` are unset::

    async with embedded_servers(settings.data_dir, need_redis=..., need_postgres=...) as servers:
        broker_url, database_url = servers.redis_url, servers.database_url

Each keeps its data under the data directory (``redis/``, ``postgres/``), listens on
127.0.0.1 on a port remembered there, and is adopted rather than started twice when an
earlier run left it alive.
"""

from waasp.embedded._process import cmdline_mentions, pid_alive
from waasp.embedded.errors import EmbeddedServerError
from waasp.embedded.postgres import EmbeddedPostgres
from waasp.embedded.redis import EmbeddedRedis
from waasp.embedded.servers import EmbeddedServers, embedded_servers, start_embedded_servers

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedServerError",
    "EmbeddedServers",
    "cmdline_mentions",
    "embedded_servers",
    "pid_alive",
    "start_embedded_servers",
]
