"""DICOM outputs of a prediction: a Structured Report and a Grayscale Softcopy
Presentation State per DICOM input (``apn predict --sr``), both built with highdicom
(the optional ``[dicom]`` extra) and referencing their source image.

- :mod:`~apn_core.dicom_out.result`: what is reported, and the pixel convention;
- :mod:`~apn_core.dicom_out.source`: the source header and the derived UIDs;
- :mod:`~apn_core.dicom_out.sr` / :mod:`~apn_core.dicom_out.gsps`: the two objects;
- :mod:`~apn_core.dicom_out.files`: where ``apn predict`` puts them, written atomically.
"""

from __future__ import annotations

from apn_core.errors import ApnError

EXTRA = 'pip install "napari-apn[dicom]"'


def require(*modules: str) -> None:
    """Import-check the optional packages (default: highdicom), naming the extra to install."""
    import importlib

    for module in modules or ("highdicom",):
        try:
            importlib.import_module(module)
        except ImportError:
            raise ApnError(
                f"DICOM SR, presentation state and DICOMweb need the optional package "
                f"{module.split('.')[0]!r}: {EXTRA}"
            ) from None
