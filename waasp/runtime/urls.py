"""Redis URLs: one server, a Redis Cluster, or a master watched by Sentinel.

- ``redis://`` / ``rediss://`` / ``unix://``: one server, as redis-py reads it;
- ``redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]`` (``rediss+cluster://`` for
  TLS): a Redis or Valkey Cluster, through any of these seed nodes; database 0 only;
- ``redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]`` (``rediss+``
  for TLS to the master; ``?sentinel_password=...`` when the sentinels have one): the master
  the sentinels name, followed across failovers.

Parsing needs no Redis client: the settings check URLs with it before anything connects.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

SINGLE_SCHEMES = frozenset({"redis", "rediss", "unix"})
CLUSTER_SCHEMES = frozenset({"redis+cluster", "rediss+cluster"})
SENTINEL_SCHEMES = frozenset({"redis+sentinel", "rediss+sentinel"})
REDIS_SCHEMES = SINGLE_SCHEMES | CLUSTER_SCHEMES | SENTINEL_SCHEMES
_SENTINEL_OPTIONS = frozenset({"sentinel_password"})


class Topology(StrEnum):
    """How the runtime reaches Redis."""

    SINGLE = "single"
    CLUSTER = "cluster"
    SENTINEL = "sentinel"


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """A parsed Redis URL (``url`` is kept whole for a single server)."""

    topology: Topology
    url: str
    nodes: tuple[tuple[str, int], ...] = ()
    tls: bool = False
    username: str | None = None
    password: str | None = None
    master: str = ""
    db: int = 0
    sentinel_password: str | None = None


def parse_redis_url(value: str) -> RedisTarget:
    """Read a Redis URL; raise ValueError saying what is wrong (never echoing the value: URLs
    carry passwords)."""
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in REDIS_SCHEMES:
        expected = ", ".join(f"{s}://" for s in sorted(REDIS_SCHEMES))
        raise ValueError(f"must be a URL starting with one of {expected}")
    if scheme in SINGLE_SCHEMES:
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - reading it checks it is a number
        except ValueError:
            raise ValueError("is not a valid URL") from None
        if scheme != "unix" and not parts.hostname:
            raise ValueError("must name a host")
        return RedisTarget(Topology.SINGLE, value)
    rest = value.split("://", 1)[1]
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    username = password = None
    if "@" in netloc:
        auth, _, netloc = netloc.rpartition("@")
        user, sep, secret = auth.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if sep else None
    nodes = tuple(_node(part) for part in netloc.split(","))
    options = dict(parse_qsl(query, keep_blank_values=True))
    tls = scheme.startswith("rediss")
    if scheme in CLUSTER_SCHEMES:
        if path.strip("/") not in {"", "0"} or options:
            raise ValueError("a cluster URL takes seed nodes only (a cluster has database 0)")
        return RedisTarget(Topology.CLUSTER, value, nodes, tls, username, password)
    unknown = sorted(set(options) - _SENTINEL_OPTIONS)
    if unknown:
        raise ValueError(f"unknown sentinel URL option(s): {', '.join(unknown)}")
    master, _, db = path.strip("/").partition("/")
    if not master:
        raise ValueError("a sentinel URL must name the master: .../MASTER_NAME[/DB]")
    if db and not db.isdigit():
        raise ValueError("the database after the master's name must be a number")
    return RedisTarget(
        Topology.SENTINEL,
        value,
        nodes,
        tls,
        username,
        password,
        master=unquote(master),
        db=int(db or 0),
        sentinel_password=options.get("sentinel_password") or None,
    )


def _node(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must list its nodes as HOST:PORT[,HOST:PORT...]")
    return host, int(port)


def result_url_for(broker_url: str) -> str:
    """Where results go by default: the broker's server in database 1 (database 0 of a
    cluster, which has no other)."""
    target = parse_redis_url(broker_url)
    if target.topology is Topology.CLUSTER:
        return broker_url
    if target.topology is Topology.SENTINEL:
        head, _, query = broker_url.partition("?")
        scheme, _, rest = head.partition("://")
        netloc, _, path = rest.partition("/")
        master = path.strip("/").partition("/")[0]
        return f"{scheme}://{netloc}/{master}/1" + (f"?{query}" if query else "")
    parts = urlsplit(broker_url)
    if parts.scheme == "unix":
        params = dict(parse_qsl(parts.query))
        params["db"] = "1"
        return urlunsplit(parts._replace(query=urlencode(params)))
    return urlunsplit(parts._replace(path="/1"))
