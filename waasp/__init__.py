"""WAASP: a sender gate for AI agents, with its own task runtime on Redis Streams."""

__version__ = "0.1.0"
