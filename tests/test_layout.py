"""The house plan holds: no import cycles, small modules, one owner of Redis in the runtime."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "waasp"
MAX_MODULE_LINES = 350
# Redis is the broker's: elsewhere only the embedded server's probe and the API's health check.
REDIS_ALLOWED = {"waasp/embedded/redis.py"}
# What the rest of waasp may import of the runtime: the submodules documented as public (its
# API, its monitoring API, its settings parsers and logs, and its dashboard, which the WAASP
# API mounts beside its own routes).
PUBLIC_RUNTIME = {
    "waasp.runtime",
    "waasp.runtime.monitor",
    "waasp.runtime.env",
    "waasp.runtime.logs",
    "waasp.runtime.dashboard",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Every waasp module ``path`` imports, TYPE_CHECKING and function-local imports included."""
    found: set[str] = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import module`` runs pkg first, but pkg is the module's parent, which
            # Python has imported before anything inside it: only the module is an edge.
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {name for name in found if name in known}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    """No module of waasp imports itself back through others (type-only imports count)."""
    known = _modules()
    graph = {name: _imports(path, known) - {name} for name, path in known.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_modules_stay_small() -> None:
    """Every module of waasp stays under the size a reader takes in at once."""
    long = {
        str(path.relative_to(ROOT)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long


def test_only_the_broker_talks_to_redis() -> None:
    """Outside runtime/broker/, no module imports redis (but the two health probes)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("waasp/runtime/broker/") or relative in REDIS_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if any(name == "redis" or name.startswith("redis.") for name in names):
                offenders.append(f"{relative}:{node.lineno}")
    assert not offenders, offenders


def test_the_app_imports_only_the_public_runtime() -> None:
    """Outside waasp/runtime/, modules import the runtime only through its public API."""
    known = _modules()
    offenders = {
        name: sorted(private)
        for name, path in known.items()
        if name != "waasp.runtime" and not name.startswith("waasp.runtime.")
        if (
            private := {
                module
                for module in _imports(path, known)
                if module.startswith("waasp.runtime.") and module not in PUBLIC_RUNTIME
            }
        )
    }
    assert not offenders, offenders
