"""Pixel spacing: the one parser and validator for every place a spacing comes from.

A spacing is ``(row_mm, col_mm)``, millimetres per pixel, both positive, finite and plausible. The
same rules apply to ``--spacing`` on the command line, the ``spacing_mm`` column of
``landmarks.csv``, DICOM spacing tags and TIFF resolutions, so a value accepted in one
place is accepted everywhere and means the same thing:

- text: one number (square pixels) or two (``row col``), separated by spaces, a comma, a
  semicolon, ``x`` / ``×``, or a backslash (DICOM's multi-value separator):
  ``0.143``, ``0.15 0.14``, ``0.15,0.14``, ``0.15x0.14``, ``0.15\\0.14``;
- within :data:`MIN_SPACING_MM`–:data:`MAX_SPACING_MM` (1 µm–10 cm a pixel): a DICOM
  ``PixelSpacing`` of 1e300 or 1e-300, or ``--override-spacing 1e38``, is no spacing
  at all, and millimetres computed from it overflow to infinity or vanish;
- numbers in text use plain decimal syntax (:func:`parse_decimal`): no ``1_000``, no
  ``nan``/``inf``, no hexadecimal, ASCII digits only — Python's ``float()`` accepts all of
  these, a data file should not.

Which spacing wins when several sources give one is decided by the callers
(:func:`apn_core.io.read_radiograph`, :mod:`apn_core.dataset.folder`, and, for a ruler or
ball on the film against the file's own, :mod:`apn_core.calibration_object.resolve`); the
tolerance at which two spacings "disagree" is :data:`SPACING_TOLERANCE`.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence

Spacing = tuple[float, float]

SPACING_TOLERANCE = 0.01  # relative difference at which two spacings disagree
MIN_SPACING_MM, MAX_SPACING_MM = 1e-3, 100.0  # 1 µm to 10 cm a pixel: beyond, not a radiograph

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SEPARATOR = re.compile(r"\s*[,;xX×\\]\s*|\s+")


def parse_decimal(text: str) -> float:
    """A finite decimal number written plainly (``12``, ``-0.5``, ``1.5e-3``).

    Raises :class:`ValueError` for anything else, including what Python's ``float()``
    would accept but a data file should not: ``1_000``, ``nan``, ``inf``, ``0x10``,
    non-ASCII digits, and overflow (``1e999``).
    """
    cleaned = text.strip()
    if not _DECIMAL.fullmatch(cleaned):
        raise ValueError(f"{text!r} is not a number")
    value = float(cleaned)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is too large")
    return value


def parse_spacing(text: str) -> Spacing | None:
    """Spacing written as text → ``(row_mm, col_mm)``; empty text → ``None``.

    Raises :class:`ValueError` (message quotes the text) when the text is not one or two
    positive numbers; see the module docstring for the syntax.
    """
    cleaned = text.strip()
    if not cleaned:
        return None
    parts = _SEPARATOR.split(cleaned)
    try:
        values = [parse_decimal(p) for p in parts]
    except ValueError:
        raise ValueError(
            f"spacing {text!r} is not one or two numbers (mm/px, e.g. 0.143 or 0.15,0.14)"
        ) from None
    return check_spacing(values, text)


def as_spacing(value: object) -> Spacing:
    """A spacing given in code or read from a file: one number, a pair, or text.

    Numbers must be real (not ``bool``); text is parsed by :func:`parse_spacing`. Raises
    :class:`ValueError` when the value is not one or two positive finite numbers.
    """
    if isinstance(value, str):
        parsed = parse_spacing(value)
        if parsed is None:
            raise ValueError("spacing is empty")
        return parsed
    if _is_number(value):
        return check_spacing([float(value)], value)  # type: ignore[arg-type]
    if isinstance(value, Sequence) or hasattr(value, "__array__"):
        items = list(value)  # type: ignore[call-overload]
        if all(_is_number(v) for v in items):
            return check_spacing([float(v) for v in items], value)
    raise ValueError(f"spacing {value!r} is not one or two numbers (mm/px)")


def check_spacing(values: Sequence[float], original: object) -> Spacing:
    """One or two numbers → ``(row_mm, col_mm)``; both positive and finite."""
    if len(values) == 1:
        values = [values[0], values[0]]
    if len(values) != 2:
        raise ValueError(f"spacing {original!r} has {len(values)} values; give one or two")
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"spacing {original!r} is not positive (mm/px must be > 0)")
    if not all(MIN_SPACING_MM <= v <= MAX_SPACING_MM for v in values):
        raise ValueError(
            f"spacing {_shown(original)} is outside {MIN_SPACING_MM:g}–{MAX_SPACING_MM:g} mm/px "
            "(a radiograph's pixels are 0.05–1 mm); every millimetre computed from it would "
            "be meaningless or overflow"
        )
    return float(values[0]), float(values[1])


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def spacing_difference(a: Spacing, b: Spacing) -> float:
    """The largest relative difference between two spacings (0.01 = 1 %), relative to ``b``."""
    return max(abs(x - y) / y for x, y in zip(a, b, strict=True))


def spacings_disagree(a: Spacing, b: Spacing, tolerance: float = SPACING_TOLERANCE) -> bool:
    """True when ``a`` and ``b`` differ by more than ``tolerance`` (relative) on either axis."""
    return spacing_difference(a, b) > tolerance


def format_spacing(spacing: Spacing) -> str:
    """``0.143`` for square pixels, else ``0.15 0.14`` (row col): what we write to files.

    The shortest text that reads back within 1e-12 (relative): a value computed through a
    unit conversion (0.143 mm from 143 µm) writes as ``0.143``, not ``0.14300000000000002``.
    """
    row, col = (_short(float(v)) for v in spacing)
    return row if row == col else f"{row} {col}"


def _short(value: float) -> str:
    for digits in range(1, 18):
        text = f"{value:.{digits}g}"
        if abs(float(text) - value) <= 1e-12 * abs(value):
            return text
    return repr(value)


def describe_spacing(spacing: Spacing) -> str:
    """Human-readable, for messages: ``0.5×0.5 mm/px`` (row×col)."""
    return f"{spacing[0]:g}×{spacing[1]:g} mm/px"


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
