"""WAASP: a sender gate for AI agents, with its own task runtime on Redis Streams."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("waasp")  # pyproject.toml holds the one literal
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
