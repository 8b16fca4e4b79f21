"""Settings.from_env: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from waasp.errors import SettingsError
from waasp.runtime import ConfigurationError
from waasp.runtime.config import config_from_env
from waasp.settings import Settings


def test_defaults() -> None:
    """An empty environment gives the documented defaults (URLs None: embedded servers)."""
    s = Settings.from_env({}, stderr_isatty=False)
    assert (s.redis_url, s.result_url, s.database_url, s.api_token) == (None, None, None, None)
    assert (s.host, s.port, s.data_dir) == ("127.0.0.1", 8000, Path(".waasp"))
    assert (s.visibility_timeout, s.key_prefix, s.audit_retention_days) == (30.0, "waasp", 90)
    assert (s.log_format, s.log_level, s.notify_webhook_url) == ("json", "info", None)


def test_log_format_follows_tty() -> None:
    """Without WAASP_LOG_FORMAT, logs are console on a TTY and JSON otherwise."""
    assert Settings.from_env({}, stderr_isatty=True).log_format == "console"
    env = {"WAASP_LOG_FORMAT": "JSON"}
    assert Settings.from_env(env, stderr_isatty=True).log_format == "json"


EVERY_VARIABLE = {
    "WAASP_REDIS_URL": "redis://r:6379/0",
    "WAASP_RESULT_URL": "rediss://r:6380/1",
    "WAASP_DATABASE_URL": "postgresql://u:p@db/waasp",
    "WAASP_API_TOKEN": "s3cret-token",
    "WAASP_HOST": "0.0.0.0",
    "WAASP_PORT": "9000",
    "WAASP_DATA_DIR": "/var/lib/waasp",
    "WAASP_NOTIFY_WEBHOOK_URL": "https://hooks.example.com/x",
    "WAASP_VISIBILITY_TIMEOUT": "12.5",
    "WAASP_KEY_PREFIX": "test-1",
    "WAASP_AUDIT_RETENTION_DAYS": "7",
    "WAASP_LOG_FORMAT": "console",
    "WAASP_LOG_LEVEL": "DEBUG",
}


def test_every_variable_parsed() -> None:
    """Every variable is read into its field."""
    s = Settings.from_env(EVERY_VARIABLE)
    assert s.redis_url == "redis://r:6379/0" and s.result_url == "rediss://r:6380/1"
    assert s.database_url == "postgresql://u:p@db/waasp" and s.api_token == "s3cret-token"
    assert (s.host, s.port, s.data_dir) == ("0.0.0.0", 9000, Path("/var/lib/waasp"))
    assert s.notify_webhook_url == "https://hooks.example.com/x"
    assert (s.visibility_timeout, s.key_prefix, s.audit_retention_days) == (12.5, "test-1", 7)
    assert (s.log_format, s.log_level) == ("console", "debug")


def test_empty_counts_as_unset() -> None:
    """An empty or blank variable takes the default."""
    s = Settings.from_env({"WAASP_PORT": "", "WAASP_DATABASE_URL": "  "})
    assert (s.port, s.database_url) == (8000, None)


# Bad values of the variables the task runtime reads too (one parser each, in waasp.runtime.env).
RUNTIME_BAD_VALUES = [
    ("WAASP_VISIBILITY_TIMEOUT", "0"),
    ("WAASP_VISIBILITY_TIMEOUT", "nan"),
    ("WAASP_VISIBILITY_TIMEOUT", "inf"),
    ("WAASP_VISIBILITY_TIMEOUT", "soon"),
    ("WAASP_REDIS_URL", "http://r:6379"),
    ("WAASP_REDIS_URL", "redis://"),
    ("WAASP_RESULT_URL", "localhost:6379"),
    ("WAASP_KEY_PREFIX", "a{b}"),
    ("WAASP_KEY_PREFIX", "two words"),
]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WAASP_PORT", "http"),
        ("WAASP_PORT", "70000"),
        ("WAASP_PORT", "-1"),
        ("WAASP_AUDIT_RETENTION_DAYS", "0"),
        ("WAASP_AUDIT_RETENTION_DAYS", "1.5"),
        ("WAASP_LOG_FORMAT", "xml"),
        ("WAASP_LOG_LEVEL", "loud"),
        ("WAASP_DATABASE_URL", "mysql://db/x"),
        ("WAASP_NOTIFY_WEBHOOK_URL", "ftp://x/y"),
        ("WAASP_API_TOKEN", "two words"),
        ("WAASP_HOST", "local host"),
        *RUNTIME_BAD_VALUES,
    ],
)
def test_bad_value_names_the_variable(variable: str, value: str) -> None:
    """A bad value raises SettingsError whose message starts with the variable's name."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")


def test_url_errors_do_not_echo_passwords() -> None:
    """A rejected URL is not repeated in the error: it may carry a password."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"WAASP_DATABASE_URL": "mysql://root:hunter2@db/x"})
    assert "hunter2" not in str(caught.value)


def test_frozen_and_token_hidden_from_repr() -> None:
    """Settings cannot be changed after creation, and repr() hides the token."""
    s = Settings.from_env({"WAASP_API_TOKEN": "s3cret"})
    with pytest.raises(FrozenInstanceError):
        s.port = 1  # type: ignore[misc]  # assigning to a frozen field is the point
    assert "s3cret" not in repr(s)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("yes", True), ("TRUE", True), ("0", False), ("off", False)],
)
def test_metrics_public_flag(value: str, expected: bool) -> None:
    """WAASP_METRICS_PUBLIC reads the usual spellings of yes and no (default no: /metrics
    needs the token)."""
    assert Settings.from_env({}).metrics_public is False
    assert Settings.from_env({"WAASP_METRICS_PUBLIC": value}).metrics_public is expected


def test_metrics_public_bad_value() -> None:
    """A value that is neither yes nor no is an error naming the variable."""
    with pytest.raises(SettingsError, match="WAASP_METRICS_PUBLIC"):
        Settings.from_env({"WAASP_METRICS_PUBLIC": "maybe"})


def test_security_settings_defaults_and_overrides() -> None:
    """The check token, rates, notification cap and HTTP limits have defaults a normal client
    never meets, and each variable overrides its field; the check token stays out of repr."""
    default = Settings.from_env({})
    assert default.check_token is None
    assert (default.check_rate, default.check_burst, default.notify_global_max) == (20.0, 40, 20)
    assert (default.http_header_timeout, default.http_body_timeout) == (10.0, 30.0)
    assert default.http_max_header_bytes == 32768
    env = {
        "WAASP_CHECK_TOKEN": "gate-secret",
        "WAASP_CHECK_RATE": "2.5",
        "WAASP_CHECK_BURST": "5",
        "WAASP_NOTIFY_GLOBAL_MAX": "3",
        "WAASP_HTTP_HEADER_TIMEOUT": "1.5",
        "WAASP_HTTP_BODY_TIMEOUT": "2",
        "WAASP_HTTP_KEEPALIVE_TIMEOUT": "3",
        "WAASP_HTTP_MAX_REQUESTS": "7",
        "WAASP_HTTP_MAX_CONNECTIONS": "9",
        "WAASP_HTTP_MAX_HEADER_BYTES": "4096",
    }
    s = Settings.from_env(env)
    assert (s.check_token, s.check_rate, s.check_burst, s.notify_global_max) == (
        "gate-secret",
        2.5,
        5,
        3,
    )
    assert (s.http_header_timeout, s.http_body_timeout, s.http_keepalive_timeout) == (1.5, 2, 3)
    assert (s.http_max_requests, s.http_max_connections, s.http_max_header_bytes) == (7, 9, 4096)
    assert "gate-secret" not in repr(s)


@pytest.mark.parametrize(
    "variable", ["WAASP_CHECK_RATE", "WAASP_HTTP_HEADER_TIMEOUT", "WAASP_HTTP_MAX_CONNECTIONS"]
)
def test_security_settings_refuse_zero(variable: str) -> None:
    """A limit of 0 (or less) is refused, naming the variable."""
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: "0"})


@pytest.mark.parametrize(("variable", "value"), RUNTIME_BAD_VALUES)
def test_environment_is_validated_as_the_app_validates_it(variable: str, value: str) -> None:
    """The runtime refuses what ``waasp.settings`` refuses, with the same message."""
    with pytest.raises(ConfigurationError) as runtime_error:
        config_from_env("waasp", {variable: value})
    with pytest.raises(SettingsError) as app_error:
        Settings.from_env({variable: value})
    assert str(runtime_error.value) == str(app_error.value)
    assert str(runtime_error.value).startswith(f"{variable}: ")


def test_runtime_config_carries_the_runtime_settings() -> None:
    """The runtime's Config built from the settings is the one the runtime reads itself:
    URLs, key prefix, visibility timeout."""
    config = Settings.from_env(EVERY_VARIABLE).runtime_config()
    assert config == config_from_env("waasp", EVERY_VARIABLE)
    assert (config.broker_url, config.result_backend) == ("redis://r:6379/0", "rediss://r:6380/1")
    assert (config.key_prefix, config.broker_visibility_timeout) == ("test-1", 12.5)
    assert Settings.from_env({}).runtime_config() == config_from_env("waasp", {})


@pytest.mark.parametrize("value", ["abc", "0/s", "10/d", "-1"])
def test_a_bad_webhook_rate_limit_names_the_variable(value: str) -> None:
    """WAASP_WEBHOOK_RATE_LIMIT takes Celery's rate syntax; anything else is refused."""
    with pytest.raises(SettingsError, match="WAASP_WEBHOOK_RATE_LIMIT: rate limit must be"):
        Settings.from_env({"WAASP_WEBHOOK_RATE_LIMIT": value})
