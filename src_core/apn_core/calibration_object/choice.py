"""Which calibration object to look for (``--calibration-object``) and which spacing the
measurements use when a file has its own as well (``--spacing-from``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from apn_core.spacing import parse_decimal

OBJECT_KINDS = ("auto", "ruler", "ball", "none")
SPACING_FROM = ("file", "object")
_BALL = re.compile(r"ball:\s*(?P<mm>[^\s]+?)\s*(?:mm)?", re.IGNORECASE)
MAX_BALL_MM = 200.0


@dataclass(frozen=True)
class ObjectChoice:
    """``auto`` (a ruler when one is found), ``ruler``, ``ball`` (of ``ball_mm``) or ``none``.

    A ball needs its diameter: its size is what calibrates, and balls are made in several
    (25 mm is common, 30 mm too), so it is never assumed — ``auto`` looks for rulers only.
    """

    kind: str = "auto"
    ball_mm: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in OBJECT_KINDS:
            raise ValueError(f"calibration object {self.kind!r}: use auto, ruler, ball:MM or none")
        if self.kind == "ball" and not (
            self.ball_mm is not None and 0 < self.ball_mm <= MAX_BALL_MM
        ):
            raise ValueError("a calibration ball needs its diameter, e.g. ball:25mm")

    @classmethod
    def parse(cls, text: str) -> ObjectChoice:
        """``auto``, ``ruler``, ``none``, ``ball:25mm`` or ``ball:25`` → a choice; anything
        else raises :class:`ValueError` saying what is accepted."""
        cleaned = text.strip().lower()
        if cleaned in ("auto", "ruler", "none"):
            return cls(cleaned)
        match = _BALL.fullmatch(cleaned)
        if match is None:
            raise ValueError(
                f"calibration object {text!r}: use auto, ruler, ball:DIAMETER (e.g. ball:25mm) or none"
            )
        try:
            mm = parse_decimal(match["mm"])
        except ValueError:
            raise ValueError(f"calibration object {text!r}: the diameter is not a number") from None
        if not 0 < mm <= MAX_BALL_MM:
            raise ValueError(
                f"calibration object {text!r}: a ball's diameter must be within 0–{MAX_BALL_MM:g} mm"
            )
        return cls("ball", mm)

    @property
    def looks_for(self) -> tuple[str, ...]:
        """The objects searched, in order."""
        return {"auto": ("ruler",), "ruler": ("ruler",), "ball": ("ball",), "none": ()}[self.kind]

    def __str__(self) -> str:
        return f"ball:{self.ball_mm:g}mm" if self.kind == "ball" else self.kind


AUTO = ObjectChoice("auto")  # the default: a ruler, when one is found


def parse_spacing_from(text: str) -> str:
    """``file`` (also ``dicom``) or ``object`` → the canonical name; else :class:`ValueError`."""
    cleaned = text.strip().lower()
    if cleaned in ("file", "dicom", "tags"):
        return "file"
    if cleaned == "object":
        return "object"
    raise ValueError(f"--spacing-from {text!r}: use dicom (the file's own spacing) or object")
