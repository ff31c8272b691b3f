"""The spacing at a calibration object on the film: one call for every caller.

:func:`estimate_spacing` looks for the chosen object on a reduced copy (long side ≤
:data:`WORK_SIDE` px) and measures it on the
full-resolution pixels of its strip or its neighbourhood only, so it costs a fraction of a
prediction on a full-size radiograph. It returns a :class:`CalibrationEstimate` (spacing
in mm/px *at the object*, its uncertainty, where it was found) or ``None``: "no
calibration object found" — never a guessed number.

``expected_mm`` (a spacing the file carries, at the detector, or one the user gave) does
not change the measured value; it only narrows what may be read: between readings of a
ruler whose tick size the ruler alone leaves open (5 mm vs 1 cm ticks differ by 2×), the
one within a plausible magnification (:data:`MAGNIFICATION`) of it; for a ball, the sizes
that magnification allows (a prosthesis head of 32 mm is not a 25 mm ball at 1.3×). A
reading outside that range is refused by the caller
(:func:`~apn_core.calibration_object.resolve.apply_object`), with a note.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from apn_core.calibration_object.choice import ObjectChoice
from apn_core.calibration_object.ruler import RulerSettings, locate_ruler, measure_ruler

WORK_SIDE = 1024  # the search runs on a copy no longer than this
MAGNIFICATION = (0.8, 1.3)  # file spacing / object spacing a reading may imply


@dataclass(frozen=True)
class CalibrationEstimate:
    """A spacing measured on a calibration object.

    object: ``ruler`` or ``ball``; spacing_mm: mm/px at the object (square pixels);
    uncertainty_mm: one standard error (statistical: the spread along the ruler, the
    residuals of the ball's outline); box: ``(row0, row1, col0, col1)`` px of the image
    where it was found; detail: how it was read (tick levels, ball diameter);
    seconds: what finding it cost.
    """

    object: str
    spacing_mm: float
    uncertainty_mm: float
    box: tuple[int, int, int, int]
    detail: str
    seconds: float = field(default=0.0, compare=False)

    @property
    def spacing(self) -> tuple[float, float]:
        return (self.spacing_mm, self.spacing_mm)

    @property
    def relative_uncertainty(self) -> float:
        return self.uncertainty_mm / self.spacing_mm

    def describe(self) -> str:
        """``ruler: 1.323 ± 0.001 mm/px (5 mm ticks …) at rows 0–1022, cols 114–128``."""
        r0, r1, c0, c1 = self.box
        return (
            f"{self.object}: {self.spacing_mm:.4g} ± {self.uncertainty_mm:.2g} mm/px "
            f"({self.detail}) at rows {r0}–{r1}, cols {c0}–{c1}"
        )

    def as_dict(self) -> dict:
        d = asdict(self)
        d["box"] = list(self.box)
        d["seconds"] = round(self.seconds, 4)
        return d


def estimate_spacing(
    pixels: np.ndarray,
    choice: ObjectChoice | str = "auto",
    expected_mm: float | None = None,
    ruler: RulerSettings | None = None,
) -> CalibrationEstimate | None:
    """The spacing at the calibration object on ``pixels`` (2-D, bone bright, any dtype),
    or ``None`` when none is found (or ``choice`` is ``none``)."""
    start = time.perf_counter()
    if isinstance(choice, str):
        choice = ObjectChoice.parse(choice)
    if not choice.looks_for or pixels.ndim != 2 or min(pixels.shape) < 16:
        return None
    work, scale = work_copy(pixels)
    if min(work.shape) < 16 or not np.isfinite(work).all():
        return None  # a sliver of an image, or not a radiograph: nothing to read
    film_px = film_length_px(work) * scale
    for kind in choice.looks_for:
        if kind == "ruler":
            found = _ruler(pixels, work, scale, film_px, expected_mm, ruler)
        else:
            from apn_core.calibration_object.ball import find_ball

            found = find_ball(
                pixels, work, scale, choice.ball_mm or 0.0, film_px, _expected(expected_mm)
            )
        if found is not None:
            kind, spacing, uncertainty, box, detail = found
            return CalibrationEstimate(
                kind,
                float(f"{spacing:.6g}"),  # a measurement, not 16 digits
                float(f"{uncertainty:.2g}"),
                box,
                detail,
                seconds=time.perf_counter() - start,
            )
    return None


def work_copy(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """``pixels`` as float32, reduced by a whole factor so the long side is ≤
    :data:`WORK_SIDE`; and that factor (work pixel → image pixels).

    Rows are averaged in blocks (along a vertical ruler: no aliasing of its ticks), columns
    taken every ``factor``-th: the search averages columns in bands anyway, and the
    measurement runs on the full-resolution strip. On a 7759 × 2503 radiograph this reads a
    ``factor``-th of the pixels (a few ms; an antialiased resize of all of them costs
    ~10× more).
    """
    rows, cols = pixels.shape
    factor = math.ceil(max(rows, cols) / WORK_SIDE)
    if factor <= 1:
        return np.asarray(pixels, np.float32), 1.0
    kept = pixels[: rows // factor * factor, ::factor]
    work = kept.reshape(rows // factor, factor, kept.shape[1]).mean(axis=1, dtype=np.float32)
    return work, float(factor)


def film_length_px(work: np.ndarray) -> float:
    """The exposed film's long side (work px): rows/columns that are not one flat grey
    (the letterbox and canvas padding of an export are not film)."""
    work = work[::2, ::2]  # plenty for a bounding box, at a quarter of the cost
    lo, hi = float(work.min()), float(work.max())
    if hi <= lo:
        return 2.0 * max(work.shape)
    flat = 0.02 * (hi - lo)
    rows = np.flatnonzero(np.ptp(work, axis=1) > flat)
    cols = np.flatnonzero(np.ptp(work, axis=0) > flat)
    if len(rows) == 0 or len(cols) == 0:
        return 2.0 * max(work.shape)
    return 2.0 * max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)


def _ruler(pixels, work, scale, film_px, expected_mm, settings):
    candidate = locate_ruler(work, settings)
    if candidate is None:
        return None
    if scale != 1.0:
        candidate = _to_image(candidate, scale, pixels.shape)
    reading = measure_ruler(pixels, candidate, film_px, settings, _expected(expected_mm))
    if reading is None:
        return None
    return "ruler", reading.spacing_mm, reading.uncertainty_mm, _ints(reading.box), reading.reading


def plausible_magnification(magnification: float) -> bool:
    """Whether a file's (or a given) spacing ÷ the object's is a magnification a leg
    film can have (:data:`MAGNIFICATION`)."""
    return MAGNIFICATION[0] <= magnification <= MAGNIFICATION[1]


def _expected(expected_mm: float | None) -> tuple[float, float] | None:
    """The (low, high) mm/px an object may have next to a file's own spacing."""
    if expected_mm is None or not math.isfinite(expected_mm) or expected_mm <= 0:
        return None
    return expected_mm / MAGNIFICATION[1], expected_mm / MAGNIFICATION[0]


def _to_image(candidate, scale: float, shape: tuple[int, int]):
    """A candidate found on the work copy, in image pixels (a work pixel's margin added)."""
    from dataclasses import replace

    r0, r1, c0, c1 = candidate.box
    rows, cols = shape
    box = (
        max(int((r0 - 1) * scale), 0),
        min(math.ceil((r1 + 1) * scale), rows),
        max(int((c0 - 1) * scale), 0),
        min(math.ceil((c1 + 1) * scale), cols),
    )
    return replace(candidate, box=box, period_px=candidate.period_px * scale)


def _ints(box) -> tuple[int, int, int, int]:
    return tuple(int(v) for v in box)  # type: ignore[return-value]
