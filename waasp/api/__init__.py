"""The HTTP API (aiohttp): ``create_app(settings)`` builds it."""

from waasp.api.app import create_app
from waasp.api.readiness import ReadinessProbe

__all__ = ["ReadinessProbe", "create_app"]
