"""Settings: validation, and the environment."""

from __future__ import annotations

from typing import Any

import pytest

from waasp.runtime import ConfigurationError, Runtime
from waasp.runtime.config import Config, config_from_env


def test_defaults_are_valid() -> None:
    """The defaults pass validation and match the documented ones."""
    config = config_from_env("waasp", {})
    assert config.key_prefix == "waasp"
    assert config.broker_visibility_timeout == 30.0
    assert config.broker_max_deliveries == 5


def test_unknown_setting_is_rejected() -> None:
    """``conf.update`` with an unknown name raises, naming it."""
    with pytest.raises(ConfigurationError, match="task_acks_latte"):
        Config().update(task_acks_latte=True)


@pytest.mark.parametrize(
    "options",
    [
        {"task_serializer": "pickle"},
        {"result_serializer": "pickle"},
        {"accept_content": ["json", "pickle"]},
        {"accept_content": "json"},
    ],
)
def test_pickle_is_rejected(options: dict[str, Any]) -> None:
    """Pickle can never be configured, for tasks or results."""
    with pytest.raises(ConfigurationError, match="json"):
        Config().update(options)


def test_celery_settings_of_fixed_behaviour_are_accepted_and_not_stored() -> None:
    """A Celery configuration that asks for what the runtime always does is taken as is,
    and those names are not settings of their own."""
    config = Config()
    config.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        enable_utc=True,
        result_expires=60,
    )
    assert config.result_expires == 60
    for name in ("task_serializer", "accept_content", "task_acks_late", "enable_utc"):
        assert not hasattr(config, name)


@pytest.mark.parametrize(("name", "value"), [("task_acks_late", False), ("enable_utc", False)])
def test_celery_settings_of_other_behaviour_are_refused(name: str, value: Any) -> None:
    """Asking for a behaviour the runtime does not have is an error naming the setting, and
    the rest of the update is not applied."""
    config = Config()
    with pytest.raises(ConfigurationError, match=f"^{name}: only True is supported"):
        config.update({name: value, "result_expires": 60})
    assert config.result_expires == Config().result_expires


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("broker_visibility_timeout", 0),
        ("result_expires", -1),
        ("worker_concurrency", 0),
        ("broker_max_deliveries", 0),
        ("key_prefix", "a b"),
        ("key_prefix", "{x}"),
        ("key_prefix", ""),
    ],
)
def test_unworkable_values_name_the_setting(name: str, value: Any) -> None:
    """A value the runtime cannot work with raises an error naming the setting."""
    with pytest.raises(ConfigurationError, match=name):
        Config().update({name: value})


def test_environment_is_read() -> None:
    """``WAASP_*`` variables set the URLs, prefix and visibility timeout."""
    config = config_from_env(
        "waasp",
        {
            "WAASP_REDIS_URL": "redis://h:1/0",
            "WAASP_RESULT_URL": "redis://h:1/5",
            "WAASP_KEY_PREFIX": "t1",
            "WAASP_VISIBILITY_TIMEOUT": "2.5",
        },
    )
    assert (config.broker_url, config.result_backend, config.key_prefix) == (
        "redis://h:1/0",
        "redis://h:1/5",
        "t1",
    )
    assert config.broker_visibility_timeout == 2.5


@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan"])
def test_bad_environment_value_names_the_variable(value: str) -> None:
    """A bad ``WAASP_VISIBILITY_TIMEOUT`` raises an error naming the variable."""
    with pytest.raises(ConfigurationError, match="WAASP_VISIBILITY_TIMEOUT"):
        config_from_env("waasp", {"WAASP_VISIBILITY_TIMEOUT": value})


def test_bad_key_prefix_from_environment() -> None:
    """A key prefix that would break the layout is rejected at start-up, naming the variable."""
    with pytest.raises(ConfigurationError, match=r"^WAASP_KEY_PREFIX: "):
        Runtime("waasp", environ={"WAASP_KEY_PREFIX": "a{b}"})


def test_blank_variables_count_as_unset() -> None:
    """A blank variable leaves the default, as the app's settings do."""
    config = config_from_env("waasp", {"WAASP_REDIS_URL": "  ", "WAASP_KEY_PREFIX": ""})
    assert (config.broker_url, config.key_prefix) == (Config().broker_url, "waasp")


def test_runtime_name_picks_the_variables() -> None:
    """A runtime named ``x`` reads ``X_*`` variables."""
    runtime = Runtime("x", environ={"X_KEY_PREFIX": "px", "WAASP_KEY_PREFIX": "no"})
    assert runtime.conf.key_prefix == "px"


def test_rejected_update_changes_nothing() -> None:
    """An update that fails validation leaves every setting as it was."""
    config = Config()
    with pytest.raises(ConfigurationError):
        config.update(result_expires=10, worker_concurrency=0)
    assert config.result_expires == Config().result_expires
    assert config.worker_concurrency == Config().worker_concurrency
