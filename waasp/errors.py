"""The exceptions of the WAASP domain: one root, one class per way a request can fail."""

from __future__ import annotations

from typing import Any


class WaaspError(Exception):
    """Root of every error WAASP raises on purpose."""


class SettingsError(WaaspError):
    """An environment variable holds a value WAASP cannot use."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable
        self.message = message


class ValidationError(WaaspError):
    """A client-supplied field is missing or outside its limits."""

    def __init__(self, field: str, message: str, **extra: Any) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.extra = extra

    @property
    def details(self) -> dict[str, Any]:
        """Describe the error for an API response (the field, and any extra facts)."""
        return {"field": self.field, **self.extra}


class NotFoundError(WaaspError):
    """The resource asked for does not exist."""


class ConflictError(WaaspError):
    """The resource to create already exists."""


class DependencyUnavailable(WaaspError):
    """A server WAASP needs (PostgreSQL, Redis) cannot be reached or is not ready."""

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(f"{dependency} unavailable: {message}")
        self.dependency = dependency
        self.message = message


class ContentionError(WaaspError):
    """The data kept changing under an operation that retried as long as it may (a 503)."""
