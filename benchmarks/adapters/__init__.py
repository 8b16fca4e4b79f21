"""One adapter per system, imported only when that system is measured."""

from __future__ import annotations

import importlib

from benchmarks.adapters.base import Adapter, Unsupported

# system -> (module, class, virtualenv)
SYSTEMS: dict[str, tuple[str, str, str]] = {
    "waasp": ("benchmarks.adapters.waasp", "WaaspAdapter", "main"),
    # priorities on, to compare with the plain path in the same run (not a peer)
    "waasp-prio": ("benchmarks.adapters.waasp", "WaaspPriorityAdapter", "main"),
    "raw": ("benchmarks.adapters.raw", "RawAdapter", "main"),
    "rawbatch": ("benchmarks.adapters.raw", "RawBatchedAdapter", "main"),
    "celery": ("benchmarks.adapters.celery", "CeleryAdapter", "main"),
    "dramatiq": ("benchmarks.adapters.dramatiq", "DramatiqAdapter", "main"),
    "taskiq": ("benchmarks.adapters.taskiq", "TaskiqAdapter", "main"),
    "saq": ("benchmarks.adapters.saq", "SaqAdapter", "redis5"),
    "arq": ("benchmarks.adapters.arq", "ArqAdapter", "redis5"),
    "streaq": ("benchmarks.adapters.streaq", "StreaqAdapter", "main"),
}


def adapter_class(system: str) -> type[Adapter]:
    """The adapter class of ``system`` (importing the system's library)."""
    module, cls, _ = SYSTEMS[system]
    found: type[Adapter] = getattr(importlib.import_module(module), cls)
    return found


__all__ = ["SYSTEMS", "Adapter", "Unsupported", "adapter_class"]
