"""The npe2 manifest is installed inside the package, valid, and imports lazily."""

from __future__ import annotations

import subprocess
import sys


def test_manifest_is_found_through_the_entry_point_and_valid():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-apn")
    assert manifest.name == "napari-apn"
    ids = {c.id for c in manifest.contributions.commands}
    assert {"napari-apn.get_reader", "napari-apn.sample_long_leg"} <= ids
    assert all(i.startswith("napari-apn.") for i in ids)
    res = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "napari-apn"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0 and "valid" in res.stdout, res.stdout + res.stderr


def test_plugin_import_does_not_load_torch_or_pydicom():
    code = "import sys, napari_apn; print('torch' in sys.modules, 'pydicom' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.split() == ["False", "False"]
