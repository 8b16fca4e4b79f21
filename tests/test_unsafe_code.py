"""No code path of the product can turn a payload into code: no pickle-like module is
imported and nothing calls eval, exec or compile (checked on the syntax tree, so comments
and docstrings that name them do not count)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "waasp"
UNSAFE_MODULES = {"pickle", "_pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle"}
UNSAFE_MODULES |= {"jsonpickle", "joblib"}
UNSAFE_CALLS = {"eval", "exec", "compile", "__import__"}
UNSAFE_ATTRIBUTES = {("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load")}


def findings(path: Path) -> list[str]:
    """The unsafe imports and calls in one source file."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        else:
            names = []
        out += [f"{path}:{line} imports {n}" for n in names if n in UNSAFE_MODULES]
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in UNSAFE_CALLS:
                out.append(f"{path}:{line} calls {func.id}()")
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and (func.value.id, func.attr) in UNSAFE_ATTRIBUTES
            ):
                out.append(f"{path}:{line} calls {func.value.id}.{func.attr}()")
    return out


def test_the_scan_sees_what_it_looks_for(tmp_path: Path) -> None:
    """The scanner flags a pickle import, eval, exec and yaml.load in a sample file."""
    sample = tmp_path / "bad.py"
    sample.write_text(
        "import pickle\nfrom marshal import loads\nimport yaml\n"
        "eval('1')\nexec('x = 1')\nyaml.load('a')\n# pickle.loads in a comment is fine\n"
    )
    assert len(findings(sample)) == 5


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_no_pickle_eval_or_exec_in_the_product(path: Path) -> None:
    """No module of waasp/ imports pickle, marshal or the like, or calls eval/exec/compile."""
    assert findings(path) == []
