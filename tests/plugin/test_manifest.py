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


def test_packaged_manifest_is_a_real_file_identical_to_the_top_level_one():
    """A symlink becomes a 14-byte text file in a Windows clone; the package ships a copy."""
    from pathlib import Path

    import napari_apn

    repo = Path(__file__).resolve().parents[2]
    packaged = Path(napari_apn.__file__).with_name("napari.yaml")
    assert not packaged.is_symlink()
    assert packaged.read_bytes() == (repo / "napari.yaml").read_bytes()


def test_no_plugin_module_loads_torch_or_pydicom_on_import():
    modules = [
        "napari_apn._reader",
        "napari_apn._writer",
        "napari_apn._sample_data",
        "napari_apn._layers",
        "napari_apn._points",
        "napari_apn._alignment",
    ]
    code = (
        f"import sys; import {', '.join(modules)}; "
        "print('torch' in sys.modules, 'pydicom' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.split() == ["False", "False"], res.stderr


def test_setup_cfg_lists_every_package_of_both_source_roots():
    """setup.cfg names the packages (its `find:` takes one root; there are two), so a new
    subpackage missing from the list would silently be left out of the wheel."""
    import configparser
    from pathlib import Path

    from setuptools import find_packages

    repo = Path(__file__).resolve().parents[2]
    cfg = configparser.ConfigParser()
    cfg.read(repo / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    on_disk = set(find_packages(str(repo), include=["napari_apn", "napari_apn.*"]))
    on_disk |= set(find_packages(str(repo / "src_core"), include=["apn_core", "apn_core.*"]))
    assert not on_disk - listed, f"add to setup.cfg [options] packages: {sorted(on_disk - listed)}"
    assert not listed - on_disk, f"not packages (remove from setup.cfg): {sorted(listed - on_disk)}"
    assert cfg["options"]["package_dir"].split() == ["apn_core", "=", "src_core/apn_core"]
