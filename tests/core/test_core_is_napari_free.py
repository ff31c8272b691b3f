"""The core must import (all of it) without napari, Qt or magicgui."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_importing_every_core_module_loads_no_gui_package():
    code = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        import apn_core
        for mod in pkgutil.walk_packages(apn_core.__path__, "apn_core."):
            if mod.name != "apn_core.__main__":
                importlib.import_module(mod.name)
        bad = sorted(m for m in sys.modules
                     if m.split(".")[0] in {"napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "vispy"})
        print(",".join(bad))
        """
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"core imported GUI modules: {res.stdout}"


def test_import_apn_core_is_cheap():
    code = "import sys, apn_core; print('torch' in sys.modules, 'pydicom' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.split() == ["False", "False"]


def test_inference_never_imports_the_synthetic_data_generator():
    """Inference (what a user's machine runs on real radiographs) does not depend on
    ``apn_core.synth`` (the phantom generator): neither at import time nor inside a
    function (issue 18, item 5)."""
    import ast
    from pathlib import Path

    import apn_core.inference

    found = []
    for path in sorted(Path(apn_core.inference.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            found += [f"{path.name}: {n}" for n in names if n.startswith("apn_core.synth")]
    assert found == []
