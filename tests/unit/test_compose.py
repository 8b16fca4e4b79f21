"""compose.yml and the Dockerfile describe the documented deployment (no Docker needed)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from waasp.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "api", "worker-high", "worker-default", "scheduler")
RUNTIME = ["python", "-m", "waasp.runtime"]
COMMANDS = {
    "migrate": ["waasp", "migrate"],
    "api": ["waasp", "serve"],
    "worker-high": [*RUNTIME, "worker", "-A", "waasp.tasks:runtime", "-Q", "high"],
    "worker-default": [*RUNTIME, "worker", "-A", "waasp.tasks:runtime", "-Q", "default,low"],
    "scheduler": [*RUNTIME, "scheduler", "-A", "waasp.tasks:runtime"],
}


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    """The services of compose.yml, YAML anchors and merge keys resolved."""
    document = yaml.safe_load((ROOT / "compose.yml").read_text())
    found: dict[str, dict[str, Any]] = document["services"]
    return found


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Return a service's depends_on in the long form, whichever form it was written in."""
    raw = service.get("depends_on", {})
    return (
        {name: {"condition": "service_started"} for name in raw} if isinstance(raw, list) else raw
    )


CLUSTER_NODES = ("redis-node-1", "redis-node-2", "redis-node-3")


def test_services_are_the_designed_ones(services: dict[str, dict[str, Any]]) -> None:
    """compose.yml runs Redis, PostgreSQL, migrations, the API, two workers and the scheduler;
    the profile "cluster" adds three cluster nodes and the step that joins them."""
    assert set(services) == {
        "redis",
        "postgres",
        *APP_SERVICES,
        *CLUSTER_NODES,
        "redis-cluster-init",
    }
    cluster = {name for name, s in services.items() if "cluster" in s.get("profiles", ())}
    assert cluster == {*CLUSTER_NODES, "redis-cluster-init"}


def test_cluster_profile_is_three_masters_joined(services: dict[str, dict[str, Any]]) -> None:
    """Each node runs in cluster mode under its own name, persisted; the init step creates the
    cluster of all three once they are healthy; the header says how to point WAASP at it."""
    for name in CLUSTER_NODES:
        command = [str(part) for part in services[name]["command"]]
        assert command[command.index("--cluster-enabled") + 1] == "yes"
        assert command[command.index("--cluster-announce-hostname") + 1] == name
        assert command[command.index("--appendfsync") + 1] == "always"
        assert services[name]["volumes"] == [f"{name}-data:/data"]
        assert "healthcheck" in services[name]
    init = services["redis-cluster-init"]
    script = " ".join(init["command"])
    assert "--cluster create " + " ".join(f"{n}:6379" for n in CLUSTER_NODES) in script
    assert all(depends_on(init)[n]["condition"] == "service_healthy" for n in CLUSTER_NODES)
    seeds = ",".join(f"{n}:6379" for n in CLUSTER_NODES)
    header = (ROOT / "compose.yml").read_text().split("\nname:", 1)[0]
    assert f"WAASP_REDIS_URL=redis+cluster://{seeds}" in header
    assert "docker compose --profile cluster up" in header


def test_app_services_run_their_commands(services: dict[str, dict[str, Any]]) -> None:
    """Each WAASP service runs the command of its role, from the project's image."""
    for name, command in COMMANDS.items():
        assert services[name]["command"] == command, name
        assert services[name]["build"] == "."
    assert len({services[name]["image"] for name in APP_SERVICES}) == 1


def test_app_services_get_urls_and_token(services: dict[str, dict[str, Any]]) -> None:
    """Every WAASP process is told where Redis and PostgreSQL are, and the API token."""
    for name in APP_SERVICES:
        env = services[name]["environment"]
        # The single server unless WAASP_REDIS_URL says otherwise (the cluster profile's URL).
        assert env["WAASP_REDIS_URL"] == "${WAASP_REDIS_URL:-redis://redis:6379/0}", name
        assert "@postgres:5432/" in env["WAASP_DATABASE_URL"], name
        assert "WAASP_API_TOKEN" in env["WAASP_API_TOKEN"], name  # taken from the host
    assert services["api"]["environment"]["WAASP_HOST"] == "0.0.0.0"
    assert any(str(port).endswith(":8000") for port in services["api"]["ports"])


def test_a_token_is_kept_and_the_way_to_read_it_is_told(
    services: dict[str, dict[str, Any]],
) -> None:
    """The token is optional (the API then generates one into a volume of its own, so it
    survives restarts), and compose.yml says how to read it."""
    for name in APP_SERVICES:
        token = services[name]["environment"]["WAASP_API_TOKEN"]
        assert token == "${WAASP_API_TOKEN:-}", name  # no `:?`: unset is not an error
    data_dir = "/data"  # the image's WAASP_DATA_DIR
    assert _dockerfile_env()["WAASP_DATA_DIR"] == data_dir
    volumes = services["api"]["volumes"]
    assert any(str(volume).endswith(f":{data_dir}") for volume in volumes)
    header = (ROOT / "compose.yml").read_text().split("\nname:", 1)[0]
    assert f"docker compose exec api cat {data_dir}/api_token" in header


def test_servers_persist_and_report_health(services: dict[str, dict[str, Any]]) -> None:
    """Redis is 7.x with the append-only file fsynced at every write (as the README says),
    PostgreSQL 16; both have healthchecks."""
    redis, postgres = services["redis"], services["postgres"]
    assert redis["image"] == "redis:7-alpine"
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert redis["command"][redis["command"].index("--appendfsync") + 1] == "always"
    assert postgres["image"] == "postgres:16-alpine"
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_dependencies_exist_and_wait_for_health(services: dict[str, dict[str, Any]]) -> None:
    """Every depends_on names a service; waiting for health needs a healthcheck to wait on."""
    for name, service in services.items():
        for dependency, spec in depends_on(service).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert dependency != name
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
    for name in APP_SERVICES:
        needs = depends_on(services[name])
        assert needs["postgres"]["condition"] == "service_healthy", name
        if name != "migrate":
            assert needs["redis"]["condition"] == "service_healthy", name
            assert needs["migrate"]["condition"] == "service_completed_successfully", name
    assert services["migrate"]["restart"] == "no"


def _instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _dockerfile_env() -> dict[str, str]:
    """The variables the image's ENV instructions set."""
    env: dict[str, str] = {}
    for line in _instructions():
        if line.startswith("ENV "):
            for pair in shlex.split(line[4:]):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def test_dockerfile_runs_waasp_as_non_root() -> None:
    """The image is python:3.11-slim, installs the package and runs as a user."""
    instructions = _instructions()
    assert instructions[0] == "FROM python:3.11-slim"
    assert any(line.startswith("RUN pip install") for line in instructions)
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}


def test_dockerfile_default_command_needs_no_configuration() -> None:
    """`docker run IMAGE` works as documented: the default command is `waasp up`, which
    starts the embedded servers, since the image sets no Redis or PostgreSQL URL."""
    command = json.loads(_instructions()[-1].removeprefix("CMD "))
    assert command == ["waasp", "up"]
    from waasp.cli.main import build_parser  # after the check, which says more than an import

    build_parser().parse_args(command[1:])
    settings = Settings.from_env(_dockerfile_env())
    assert settings.redis_url is None and settings.database_url is None
    assert settings.host == "0.0.0.0" and settings.data_dir == Path("/data")
