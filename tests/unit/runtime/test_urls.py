"""Redis URLs: one server, a cluster, a sentinel-watched master (no Redis needed)."""

from __future__ import annotations

import pytest

from waasp.runtime.config import config_from_env
from waasp.runtime.errors import ConfigurationError
from waasp.runtime.urls import Topology, parse_redis_url, result_url_for


def test_one_server_urls_are_kept_whole() -> None:
    """redis://, rediss:// and unix:// name one server, as before."""
    for url in ("redis://h:6379/0", "rediss://u:p@h:6380/2", "unix:///tmp/r.sock?db=1"):
        target = parse_redis_url(url)
        assert (target.topology, target.url) == (Topology.SINGLE, url)


def test_cluster_url_lists_seed_nodes() -> None:
    """redis+cluster:// takes seed nodes and credentials; rediss+cluster:// is TLS."""
    target = parse_redis_url("rediss+cluster://me:s%40cret@a:7000,b:7001,[::1]:7002")
    assert target.topology is Topology.CLUSTER
    assert target.nodes == (("a", 7000), ("b", 7001), ("::1", 7002))
    assert (target.username, target.password, target.tls) == ("me", "s@cret", True)


def test_sentinel_url_names_master_and_db() -> None:
    """redis+sentinel:// takes sentinels, the master's name, a db and the sentinels' password."""
    target = parse_redis_url("redis+sentinel://s1:26379,s2:26380/mymaster/3?sentinel_password=x")
    assert target.topology is Topology.SENTINEL
    assert target.nodes == (("s1", 26379), ("s2", 26380))
    assert (target.master, target.db, target.sentinel_password) == ("mymaster", 3, "x")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis+cluster://", "HOST:PORT"),
        ("redis+cluster://a:b", "HOST:PORT"),
        ("redis+cluster://a:1/2", "database 0"),
        ("redis+sentinel://a:1", "name the master"),
        ("redis+sentinel://a:1/m/x", "number"),
        ("redis+sentinel://a:1/m?timeout=1", "unknown sentinel URL option"),
        ("http://a:1", "must be a URL starting with one of"),
        ("redis://:1", "must name a host"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, reason: str) -> None:
    """A bad URL is refused with the reason, and never echoed (URLs carry passwords)."""
    with pytest.raises(ValueError, match=reason) as caught:
        parse_redis_url(url)
    assert url not in str(caught.value)


def test_results_default_to_db_0_on_a_cluster_and_db_1_elsewhere() -> None:
    """A cluster has database 0 only; a server or a sentinel master keeps results in db 1."""
    assert result_url_for("redis+cluster://a:1,b:2") == "redis+cluster://a:1,b:2"
    assert result_url_for("redis://h:1/0") == "redis://h:1/1"
    sentinel = "redis+sentinel://a:1,b:2/m/0?sentinel_password=x"
    assert result_url_for(sentinel) == "redis+sentinel://a:1,b:2/m/1?sentinel_password=x"


def test_environment_names_the_bad_variable() -> None:
    """A bad WAASP_REDIS_URL / WAASP_MIN_REPLICAS is a ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match=r"^WAASP_REDIS_URL: "):
        config_from_env("waasp", {"WAASP_REDIS_URL": "redis+cluster://nope"})
    with pytest.raises(ConfigurationError, match=r"^WAASP_MIN_REPLICAS: "):
        config_from_env("waasp", {"WAASP_MIN_REPLICAS": "-1"})
    conf = config_from_env("waasp", {"WAASP_MIN_REPLICAS": "1"})
    assert conf.broker_min_replicas == 1


def test_a_route_naming_a_broker_is_refused() -> None:
    """A task_routes entry with broker_url would be ignored silently: it is an error."""
    conf = config_from_env("waasp", {})
    with pytest.raises(ConfigurationError, match="cannot name a broker"):
        conf.update(task_routes={"app.*": {"queue": "q", "broker_url": "redis://other:6379/0"}})
    assert conf.task_routes == {}
