"""Real Redis Clusters and Sentinel set-ups on loopback ports, for the tests that need them.

``start_cluster`` runs three masters (and optionally a replica each) from the system's
``redis-server`` (or the embedded Valkey binary when none is installed), joined with
``redis-cli --cluster create``. ``start_sentinel`` runs a master, a replica and three
sentinels. Every process is this test session's own, stopped by ``stop``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import redis

from tests.servers import free_port, port_open
from waasp.embedded.binaries import redis_server

SENTINEL_MASTER = "waasp-master"


def _server(embedded: bool = False) -> Path:
    """The system's ``redis-server``, or (if none, or asked) the embedded Valkey."""
    found = None if embedded else shutil.which("redis-server")
    return Path(found) if found else redis_server()


def _cli() -> str | None:
    """``redis-cli`` or ``valkey-cli`` if installed (the embedded Valkey comes without one)."""
    return shutil.which("redis-cli") or shutil.which("valkey-cli")


@dataclass
class Node:
    """One redis-server process."""

    port: int
    directory: Path
    args: list[str]
    binary: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(self.binary), *self.args],
                cwd=self.directory,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 20
        while True:
            try:
                with redis.Redis(port=self.port, socket_timeout=1) as probe:
                    probe.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the process (a crash: nothing is saved)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)


def _cluster_port() -> int:
    """A free port whose cluster bus port (10000 higher) is free too."""
    while True:
        port = free_port()
        if port <= 55535 and not port_open("127.0.0.1", port + 10000):
            return port


def _node(directory: Path, *extra: str, embedded: bool = False) -> Node:
    port = _cluster_port()
    args = [
        "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--dir", str(directory / str(port)), *extra,
    ]  # fmt: skip
    node = Node(port, directory / str(port), args, _server(embedded))
    node.start()
    return node


class _Stopped:
    """Stopped on leaving a ``with`` block."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Cluster(_Stopped):
    """Three masters (and their replicas), joined into one cluster."""

    nodes: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:3])

    def masters(self) -> list[Node]:
        """The nodes that serve slots now."""
        out = []
        for node in self.nodes:
            if node.process is None or node.process.poll() is not None:
                continue
            with node.client() as client:
                role = client.execute_command("ROLE")[0]
            if role in (b"master", "master"):
                out.append(node)
        return out

    def replica_of(self, master: Node) -> Node:
        """The node that replicates ``master``."""
        for node in self.nodes:
            if node is master or node.process is None or node.process.poll() is not None:
                continue
            with node.client() as client:
                info = client.info("replication")
            if info.get("role") == "slave" and int(info.get("master_port", 0)) == master.port:
                return node
        raise LookupError(f"no replica of {master.port}")

    def wait_ok(self, timeout: float = 60.0) -> None:
        """Wait until every live node says the cluster is ok and sees one master per slot."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                live = [n for n in self.nodes if n.process and n.process.poll() is None]
                states = []
                for node in live:
                    with node.client() as client:
                        states.append(client.cluster("info")["cluster_state"])
                if all(state == "ok" for state in states):
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not become ok")
            time.sleep(0.1)

    def wait_failed_over(self, victim: Node, timeout: float = 90.0) -> None:
        """Wait until a replica has taken the killed ``victim``'s place and all is ok."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(redis.RedisError):
                if len(self.masters()) == 3:
                    self.wait_ok(max(deadline - time.monotonic(), 1.0))
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("no replica took the killed master's place")
            time.sleep(0.1)

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()


def start_cluster(directory: Path, replicas: bool = False, embedded: bool = False) -> Cluster:
    """Start three masters (with one replica each if ``replicas``) and join them: with
    ``redis-cli --cluster create``, or without a CLI (the embedded Valkey has none, and
    ``embedded`` runs it) by the same CLUSTER commands sent from here."""
    count = 6 if replicas else 3
    options = ("--cluster-enabled", "yes", "--cluster-node-timeout", "2000")
    cluster = Cluster([_node(directory, *options, embedded=embedded) for _ in range(count)])
    try:
        cli = None if embedded else _cli()
        if cli is None:
            _join(cluster.nodes)
        else:
            create = [cli, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in cluster.nodes)]
            create += ["--cluster-replicas", "1" if replicas else "0", "--cluster-yes"]
            subprocess.run(create, check=True, capture_output=True, timeout=60)
        cluster.wait_ok()
        if replicas:
            wait_linked(cluster.nodes, len(cluster.nodes) // 2)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _join(nodes: list[Node]) -> None:
    """What ``--cluster create`` does: the first three nodes share the slots, each further
    node replicates one of them."""
    masters, replicas = nodes[:3], nodes[3:]
    with masters[0].client() as first:
        for node in nodes[1:]:
            first.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
    bounds = [0, 5461, 10923, 16384]
    for i, master in enumerate(masters):
        with master.client() as client:
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", bounds[i], bounds[i + 1] - 1)
    for replica, master in zip(replicas, masters, strict=False):
        with master.client() as client:
            master_id = client.execute_command("CLUSTER", "MYID")
        deadline = time.monotonic() + 30
        with replica.client() as client:
            while True:  # REPLICATE needs the master known, which gossip takes a moment for
                try:
                    client.execute_command("CLUSTER", "REPLICATE", master_id)
                    break
                except redis.ResponseError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)


def wait_linked(nodes: list[Node], replicas: int, timeout: float = 60.0) -> None:
    """Wait until ``replicas`` of ``nodes`` are replicas with their master link up."""
    deadline = time.monotonic() + timeout
    while True:
        linked = 0
        for node in nodes:
            with node.client() as client:
                info = client.info("replication")
            if info.get("role") == "slave" and info.get("master_link_status") == "up":
                linked += 1
        if linked == replicas:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the cluster's replicas did not link")
        time.sleep(0.1)


@dataclass
class SentinelSet(_Stopped):
    """A master, a replica and three sentinels watching them."""

    master: Node
    replica: Node
    sentinels: list[Node]

    @property
    def url(self) -> str:
        nodes = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{nodes}/{SENTINEL_MASTER}/0"

    def master_port(self) -> int:
        """The port of the master the sentinels name now."""
        with self.sentinels[0].client() as sentinel:
            _host, port = sentinel.execute_command(
                "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_MASTER
            )
        return int(port)

    def stop(self) -> None:
        for node in (*self.sentinels, self.replica, self.master):
            node.kill()


def start_sentinel(directory: Path) -> SentinelSet:
    """Start a master, a replica of it and three sentinels (quorum 2)."""
    master = _node(directory)
    replica = _node(directory, "--replicaof", "127.0.0.1", str(master.port))
    server = _server()
    sentinels: list[Node] = []
    try:
        for _ in range(3):
            port = free_port()
            sdir = directory / f"sentinel-{port}"
            sdir.mkdir(parents=True)
            conf = sdir / "sentinel.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {sdir}\n"
                f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {master.port} 2\n"
                f"sentinel down-after-milliseconds {SENTINEL_MASTER} 2000\n"
                f"sentinel failover-timeout {SENTINEL_MASTER} 10000\n"
            )
            node = Node(port, sdir, [str(conf), "--sentinel"], server)
            node.start()
            sentinels.append(node)
        wait_linked([replica], 1)
    except BaseException:
        for node in (*sentinels, replica, master):
            node.kill()
        raise
    return SentinelSet(master, replica, sentinels)


def start_single(directory: Path) -> Node:
    """One plain redis-server (the benchmarks' one-master baseline)."""
    return _node(directory)
