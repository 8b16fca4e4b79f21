"""The parsers of the environment variables a runtime reads, one per variable.

``config_from_env`` reads them for a standalone runtime; an application that reads the same
variables into settings of its own (``waasp.settings``) calls these very parsers, so a value
means the same thing, and is refused with the same words, whoever reads it.

A parser takes the stripped, non-empty text of a variable and returns its value, or raises
ValueError saying what is wrong; ``read`` puts the variable's name in front.

A public submodule: applications may import it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from waasp.runtime.errors import ConfigurationError
from waasp.runtime.rates import parse_rate
from waasp.runtime.urls import parse_redis_url

T = TypeVar("T")


def url(schemes: frozenset[str], *, host_required: bool = True) -> Callable[[str], str]:
    """A parser of URLs with one of ``schemes`` (and a host, except for ``unix://``)."""

    def parse(value: str) -> str:
        # Never echo the value: URLs carry passwords.
        try:
            parts = urlsplit(value)
        except ValueError:
            raise ValueError("is not a valid URL") from None
        if parts.scheme not in schemes:
            expected = ", ".join(f"{s}://" for s in sorted(schemes))
            raise ValueError(f"must be a URL starting with one of {expected}")
        if host_required and parts.scheme != "unix" and not parts.hostname:
            raise ValueError("must name a host")
        return value

    return parse


def redis_url(value: str) -> str:
    """A Redis URL: one server, a cluster or a sentinel-watched master (``urls``)."""
    parse_redis_url(value)
    return value


def positive_number(value: str, what: str = "a number") -> float:
    """A finite number greater than 0 (``what`` names it in the error)."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"must be {what} greater than 0, got {value!r}")
    return number


def positive_seconds(value: str) -> float:
    """A finite number of seconds greater than 0."""
    return positive_number(value, "a number of seconds")


def rate_limit(value: str) -> str:
    """A rate in Celery's syntax (``10/s``, ``100/m``, ``3/h``), as given."""
    parse_rate(value)
    return value


def replica_count(value: str) -> int:
    """A whole number of replicas, 0 or more."""
    if not value.isdigit():
        raise ValueError(f"must be a whole number of replicas (0 or more), got {value!r}")
    return int(value)


def key_prefix(value: str) -> str:
    """A Redis key prefix."""
    # Braces would break the hash tags the runtime puts in every key.
    if any(c.isspace() or c in "{}" for c in value):
        raise ValueError(f"must not contain whitespace or braces, got {value!r}")
    return value


def _configuration_error(name: str, reason: str) -> Exception:
    return ConfigurationError(f"{name}: {reason}")


def read(
    environ: Mapping[str, str],
    name: str,
    parse: Callable[[str], T],
    error: Callable[[str, str], Exception] = _configuration_error,
) -> T | None:
    """The parsed value of variable ``name``, or None when it is unset or blank.

    When ``parse`` refuses the value, raises ``error(name, reason)`` (by default a
    ConfigurationError reading "NAME: reason").
    """
    raw = environ.get(name, "").strip()
    if raw == "":
        return None
    try:
        return parse(raw)
    except ValueError as exc:
        raise error(name, str(exc)) from None
