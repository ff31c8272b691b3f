"""Structural checks of the source that a merge can break without any test failing."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (ROOT / "src_core" / "apn_core", ROOT / "napari_apn")


def _redefined(body: list[ast.stmt], where: str) -> list[str]:
    """Functions/classes defined twice in one body (a property's setter/deleter and
    ``typing.overload`` excepted): only the last copy runs, the first is dead code."""

    def counts(node) -> bool:
        for d in getattr(node, "decorator_list", []):
            if isinstance(d, ast.Attribute) and d.attr in ("setter", "deleter"):
                return False
            if (isinstance(d, ast.Name) and d.id == "overload") or (
                isinstance(d, ast.Attribute) and d.attr == "overload"
            ):
                return False
        return True

    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    names = Counter(n.name for n in body if isinstance(n, defs) and counts(n))
    found = [f"{where}: {name} ×{k}" for name, k in names.items() if k > 1]
    for node in body:
        if isinstance(node, ast.ClassDef):
            found += _redefined(node.body, f"{where}.{node.name}")
    return found


def test_no_function_or_class_is_defined_twice_in_one_module():
    """A merge left a second copy of ``synth.accessories._marker``: ruff's F811 misses a
    redefinition when the name is used in between, so this looks for any."""
    found = []
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found += _redefined(tree.body, str(path.relative_to(ROOT)))
    assert found == []
