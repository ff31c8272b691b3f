"""The format dispatcher :func:`read_radiograph` and the spacing precedence it applies.

Spacing precedence for one file (a labelled folder adds its ``spacing_mm`` column on top,
see :mod:`apn_core.dataset.folder`):

================================  ===========================================================
file has a spacing?               result
================================  ===========================================================
yes, no ``spacing`` given         the file's
yes, ``spacing`` given            the file's; if they differ by more than 1 % a warning is
                                  logged and ``meta["spacing_note"]`` says so
yes, given with ``override=True`` the given one; ``meta["spacing_note"]`` names the file's
no (or its tag is invalid)        the given one, else ``None``
================================  ===========================================================
"""

from __future__ import annotations

import logging
from pathlib import Path

from apn_core.errors import ImageReadError
from apn_core.io.limits import ImageLimits
from apn_core.io.record import Radiograph, checked_spacing
from apn_core.io.text import brief_error
from apn_core.spacing import describe_spacing, spacing_difference, spacings_disagree

log = logging.getLogger(__name__)

__all__ = [
    "IMAGE_SUFFIXES",
    "Radiograph",
    "is_image_file",
    "read_radiograph",
]

DICOM_SUFFIXES = frozenset({".dcm", ".dicom", ".dic", ".ima"})
TIFF_SUFFIXES = frozenset({".tif", ".tiff"})
RASTER_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
IMAGE_SUFFIXES = DICOM_SUFFIXES | TIFF_SUFFIXES | RASTER_SUFFIXES


def is_image_file(path: str | Path) -> bool:
    """True for files whose suffix names a supported radiograph format."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _sniff(path: Path) -> str:
    """Format from the file's first bytes, falling back on the suffix."""
    with open(path, "rb") as fh:
        head = fh.read(132)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    suffix = path.suffix.lower()
    if suffix in DICOM_SUFFIXES or suffix == "":
        return "dicom"  # DICOM without preamble ("no meta"), common from PACS exports
    if suffix in TIFF_SUFFIXES | RASTER_SUFFIXES:
        raise ImageReadError(path, f"the content is not a {suffix[1:].upper()} image")
    raise ImageReadError(
        path, f"unsupported file type {suffix!r} (supported: {', '.join(sorted(IMAGE_SUFFIXES))})"
    )


def read_radiograph(
    path: str | Path,
    spacing: object = None,
    spacing_source: str = "given explicitly",
    *,
    override: bool = False,
    limits: ImageLimits | None = None,
) -> Radiograph:
    """Read a DICOM, TIFF, PNG or JPEG radiograph.

    ``spacing`` (mm/px; one number for square pixels, ``(row, col)``, or text such as
    ``"0.15,0.14"``) is a **fallback**: it is used when the file carries no valid spacing
    and ``spacing_source`` records where it came from. When the file has its own spacing,
    the file's is kept; if the two differ by more than 1 % a warning is logged and
    ``meta["spacing_note"]`` records it. ``override=True`` makes the given spacing replace
    the file's (an explicit user decision, noted in ``meta["spacing_note"]``).

    ``limits`` bound the declared image size (default: :meth:`ImageLimits.from_env`).

    Raises :class:`ImageReadError` (message names the file) for missing, non-regular,
    corrupt, truncated, oversized (:class:`~apn_core.errors.ImageTooLargeError`),
    non-finite (:class:`~apn_core.errors.NonFinitePixelsError`), non-image, colour or
    multi-frame files, and for an invalid given ``spacing``.
    """
    path = Path(path)
    given = None if spacing is None else checked_spacing(spacing, path, spacing_source)
    limits = limits or ImageLimits.from_env()
    if not path.exists():
        raise ImageReadError(path, "file not found")
    if path.is_dir():
        raise ImageReadError(path, "is a folder, not an image file")
    if not path.is_file():  # a FIFO or device would block or never end
        raise ImageReadError(path, "not a regular file (a device, pipe or socket)")
    kind = _sniff(path)
    if kind == "dicom":
        from apn_core.io.dicom import read_dicom as reader
    elif kind == "tiff":
        from apn_core.io.tiff import read_tiff as reader
    else:
        from apn_core.io.raster import read_raster as reader
    try:
        radiograph = reader(path, limits)
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(path, "image too large to load into memory") from None
    except Exception as exc:  # a corrupt file can make any decoder raise anything
        raise ImageReadError(
            path, f"cannot decode {kind.upper()} image ({brief_error(exc)})"
        ) from exc
    if given is not None:
        radiograph = _apply_given_spacing(radiograph, given, spacing_source, override)
    return radiograph


def _apply_given_spacing(
    radiograph: Radiograph, given: tuple[float, float], source: str, override: bool
) -> Radiograph:
    """The precedence table of the module docstring."""
    own = radiograph.spacing
    if own is None:
        return radiograph.with_spacing(given, source)
    if override:
        note = (
            f"{describe_spacing(given)} ({source}) replaces the file's {describe_spacing(own)} "
            f"({radiograph.spacing_source})"
        )
        return radiograph.with_spacing(given, source, spacing_note=note)
    if not spacings_disagree(given, own):
        return radiograph
    note = (
        f"{describe_spacing(given)} ({source}) differs from the file's {describe_spacing(own)} "
        f"({radiograph.spacing_source}) by {spacing_difference(given, own):.1%}; using the "
        "file's (override to use the given one)"
    )
    log.warning("%s: %s", radiograph.path, note)
    return radiograph.with_spacing(own, radiograph.spacing_source, spacing_note=note)
