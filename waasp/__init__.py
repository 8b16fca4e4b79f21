"""WAASP: a sender gate for AI agents, with its own task runtime on Redis Streams."""

from __future__ import annotations

# ``python -m waasp`` runs this before ``waasp.__main__`` can take Ctrl-C in hand, so it
# imports nothing: reading the version costs importlib.metadata, email and zipfile.


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("waasp")  # pyproject.toml holds the one literal
    except PackageNotFoundError:  # run from a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found
