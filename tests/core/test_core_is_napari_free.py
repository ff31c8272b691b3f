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
