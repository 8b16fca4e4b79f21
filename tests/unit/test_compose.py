"""compose.yml and the Dockerfile describe the documented deployment (no Docker needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

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


def test_services_are_the_designed_ones(services: dict[str, dict[str, Any]]) -> None:
    """compose.yml runs Redis, PostgreSQL, migrations, the API, two workers and the scheduler."""
    assert set(services) == {"redis", "postgres", *APP_SERVICES}


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
        assert env["WAASP_REDIS_URL"].startswith("redis://redis:6379/"), name
        assert "@postgres:5432/" in env["WAASP_DATABASE_URL"], name
        assert "WAASP_API_TOKEN" in env["WAASP_API_TOKEN"], name  # taken from the host
    assert services["api"]["environment"]["WAASP_HOST"] == "0.0.0.0"
    assert any(str(port).endswith(":8000") for port in services["api"]["ports"])


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


def test_dockerfile_runs_waasp_serve_as_non_root() -> None:
    """The image is python:3.11-slim, installs the package, runs `waasp serve` as a user."""
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    assert instructions[0] == "FROM python:3.11-slim"
    assert any(line.startswith("RUN pip install") for line in instructions)
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
    assert instructions[-1] == 'CMD ["waasp", "serve"]'
