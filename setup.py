"""Two source roots: ``napari_apn`` (plugin) at the top, ``apn_core`` (core) under ``src_core/``."""

from setuptools import find_packages, setup

core = find_packages("src_core", include=["apn_core", "apn_core.*"])
plugin = find_packages(".", include=["napari_apn", "napari_apn.*"])

setup(
    packages=plugin + core,
    package_dir={name: "src_core/" + name.replace(".", "/") for name in core},
)
