"""A PNG overlay of a prediction: the radiograph, landmarks coloured by name (hollow, with
"review" in the label, when a landmark needs review or its confidence is low), the
mechanical axes (hip → ankle) and the measurements.

Everything drawn stays readable on any background: text has a dark outline (Pillow's
``stroke_width``) and the measurement lines a dark box; labels are placed inside the
picture (left of the point where the right edge is near). Values that cannot be computed
print as "–" with the reason (the landmark that is absent), never as "nan".
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from apn_core.geometry import normalise_intensity
from apn_core.inference.predictor import Prediction
from apn_core.palette import rgb
from apn_core.resample import resample
from apn_core.utils.atomic import atomic_path

LOW_CONFIDENCE = 0.5
OVERLAY_HEIGHT = 1000  # px: pictures are for looking, not measuring
MISSING = "–"
_DARK = (0, 0, 0)
_MARGIN = 3
# Pillow's bundled font covers Latin-1 (° and ± draw) but not these: they would draw as boxes
_ASCII = str.maketrans({"–": "-", "—": "-", "×": "x", "≤": "<=", "≥": ">=", "→": "->", "…": "..."})


def drawable(text: str) -> str:
    """``text`` in characters the overlay font has (others become "?")."""
    text = text.translate(_ASCII)
    return "".join(ch if ord(ch) < 256 else "?" for ch in text)


def overlay_base(pixels: np.ndarray, height: int = OVERLAY_HEIGHT) -> np.ndarray:
    """The ``(h, w)`` uint8 picture under an overlay: resized to ``height`` (never enlarged), then
    windowed like ``geometry.network_input`` — one pass over a full-size image in its stored
    type (:func:`~apn_core.resample.resample`: no full-size float copy), and percentiles that
    full-resolution noise does not stretch."""
    scale = min(1.0, height / pixels.shape[0])
    shape = (max(1, round(pixels.shape[0] * scale)), max(1, round(pixels.shape[1] * scale)))
    return (normalise_intensity(resample(pixels, shape)) * 255).astype(np.uint8)


def fmt_value(value, spec: str, unit: str = "") -> str:
    """``value`` formatted with ``spec``, or "–" when it is missing (None or not finite)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    return f"{value:{spec}}{unit}"


def measurement_lines(prediction: Prediction) -> list[str]:
    """One line per leg (HKA, MAD, length; what is missing and why) and the absent landmarks."""
    names = list(prediction.names)
    absent = [n for n, p in zip(names, prediction.present, strict=True) if not p]
    lines = []
    for side, m in prediction.alignment.items():
        if not isinstance(m, dict):
            continue
        line = (
            f"{side}: HKA {fmt_value(m.get('hka_deg'), '+.1f', '°')}, "
            f"MAD {fmt_value(m.get('mad_mm'), '+.1f', ' mm')}, "
            f"length {fmt_value(m.get('length_mm'), '.0f', ' mm')}"
        )
        missing = [n for n in absent if n.endswith(f"_{side}")]
        if missing:
            line += f" ({', '.join(missing)} absent)"
        lines.append(line)
    if absent:
        lines.append("absent: " + ", ".join(absent))
    return lines


def wrap(line: str, length, width: float) -> list[str]:
    """Split ``line`` after its commas into pieces no longer than ``width`` (where it can);
    continuation pieces are indented."""
    pieces, current = [], ""
    for token in line.split(", "):
        candidate = f"{current}, {token}" if current else token
        if current and length(candidate + ",") > width:
            pieces.append(current + ",")
            current = "  " + token
        else:
            current = candidate
    return [*pieces, current]


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # a scalable font (Pillow ≥ 10.1 with FreeType)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def place_label(
    anchor, size: tuple[float, float], image: tuple[int, int], taken: list, gap: float
) -> tuple[float, float]:
    """Top-left corner for a ``size`` (w, h) label beside ``anchor`` (x, y): inside the
    ``image`` (w, h), avoiding the ``taken`` boxes (x0, y0, x1, y1) where it can — right,
    left, then above or below either side; the least-overlapping candidate otherwise."""
    (x, y), (w, h), (width, height) = anchor, size, image
    candidates = [(x + gap, y - h / 2), (x - gap - w, y - h / 2)]
    for dy in (-h - 2, h + 2, -2 * h - 4, 2 * h + 4):
        candidates += [(x + gap, y - h / 2 + dy), (x - gap - w, y - h / 2 + dy)]

    def clamp(tx, ty):
        return (
            min(max(tx, _MARGIN), max(_MARGIN, width - w - _MARGIN)),
            min(max(ty, _MARGIN), max(_MARGIN, height - h - _MARGIN)),
        )

    def overlap(tx, ty):
        return sum(
            max(0.0, min(tx + w, b[2]) - max(tx, b[0]))
            * max(0.0, min(ty + h, b[3]) - max(ty, b[1]))
            for b in taken
        )

    best, best_cost = None, float("inf")
    for tx, ty in candidates:
        inside = _MARGIN <= tx <= width - w - _MARGIN and _MARGIN <= ty <= height - h - _MARGIN
        ctx, cty = clamp(tx, ty)
        cost = overlap(ctx, cty) + (0 if inside else 0.5)  # prefer unclamped (beside the point)
        if cost < best_cost:
            best, best_cost = (ctx, cty), cost
        if cost == 0:
            break
    return best


def draw_overlay(base: np.ndarray, prediction: Prediction):
    """A PIL RGB image: ``base`` (from :func:`overlay_base`) with the prediction drawn on it."""
    from PIL import Image, ImageDraw

    pil = Image.fromarray(base).convert("RGB")
    draw = ImageDraw.Draw(pil)
    width, height = pil.size
    rows, cols = prediction.image_shape
    xy = prediction.xy * np.array([width / cols, height / rows])
    names = list(prediction.names)
    font = _font(max(11, round(height / 62)))
    stroke = 2
    r = max(4, round(height / 170))

    for side in ("right", "left"):
        if {f"femur_{side}", f"ankle_{side}"} <= set(names):
            a, b = xy[names.index(f"femur_{side}")], xy[names.index(f"ankle_{side}")]
            if np.isfinite(a).all() and np.isfinite(b).all():
                draw.line((*a, *b), fill=_DARK, width=3)
                draw.line((*a, *b), fill=(255, 255, 255), width=1)
    header = []  # measurement lines in dark boxes at the top left: labels keep clear of them
    y = _MARGIN
    lines = [
        part
        for line in map(drawable, measurement_lines(prediction))
        for part in wrap(line, lambda t: draw.textlength(t, font=font), width - 2 * _MARGIN - 4)
    ]
    for line in lines:
        left, top, right, bottom = draw.textbbox((0, 0), line, font=font)
        box = (_MARGIN - 2, y - 1, _MARGIN + right - left + 2, y + bottom - top + 2)
        header.append((line, box, (_MARGIN - left, y - top)))
        y += bottom - top + 5
    taken = [box for _, box, _ in header]
    shown = [i for i in range(len(names)) if prediction.present[i]]
    taken += [(xy[i, 0] - r, xy[i, 1] - r, xy[i, 0] + r, xy[i, 1] + r) for i in shown]
    flagged = (
        prediction.needs_review
        if prediction.needs_review is not None
        else np.zeros(len(names), bool)
    )
    for i in shown:
        x, y = xy[i]
        box = (x - r, y - r, x + r, y + r)
        if prediction.confidence[i] >= LOW_CONFIDENCE and not flagged[i]:
            draw.ellipse(box, fill=rgb(i), outline=_DARK, width=1)
        else:
            draw.ellipse(box, outline=_DARK, width=4)
            draw.ellipse(box, outline=rgb(i), width=2)
    for i in shown:
        text = drawable(f"{names[i]} {fmt_value(float(prediction.confidence[i]), '.2f')}")
        if flagged[i]:
            text += " review"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
        tx, ty = place_label(xy[i], (right - left, bottom - top), (width, height), taken, r + 4)
        taken.append((tx, ty, tx + right - left, ty + bottom - top))
        draw.text(
            (tx - left, ty - top),
            text,
            fill=rgb(i),
            font=font,
            stroke_width=stroke,
            stroke_fill=_DARK,
        )
    for line, box, at in header:
        draw.rectangle(box, fill=_DARK)
        draw.text(at, line, fill=(255, 255, 0), font=font)
    return pil


def write_overlay(
    path: str | Path, pixels: np.ndarray, prediction: Prediction, height: int = OVERLAY_HEIGHT
) -> Path:
    """Write the overlay PNG of ``prediction`` on the full-size ``pixels`` (atomically)."""
    return save_overlay(path, overlay_base(pixels, height), prediction)


def save_overlay(path: str | Path, base: np.ndarray, prediction: Prediction) -> Path:
    """Write the overlay PNG on an :func:`overlay_base` picture (atomically)."""
    pil = draw_overlay(base, prediction)
    with atomic_path(path) as tmp:
        pil.save(tmp, format="PNG")
    return Path(path)
