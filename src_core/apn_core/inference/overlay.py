"""A PNG overlay of a prediction: the radiograph, landmarks coloured by name (hollow when
confidence is low), the mechanical axes (hip → ankle) and the measurements."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from apn_core.geometry import normalise_intensity
from apn_core.inference.predictor import Prediction
from apn_core.palette import rgb
from apn_core.utils.atomic import atomic_path

LOW_CONFIDENCE = 0.5


def write_overlay(
    path: str | Path, pixels: np.ndarray, prediction: Prediction, height: int = 1000
) -> Path:
    from PIL import Image, ImageDraw

    # resize first, then window (as geometry.network_input): one pass over a full-size image,
    # and percentiles that full-resolution noise does not stretch
    scale = min(1.0, height / pixels.shape[0])
    size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
    small = Image.fromarray(np.asarray(pixels, dtype=np.float32), mode="F").resize(
        size, Image.Resampling.BILINEAR
    )
    img = normalise_intensity(np.asarray(small))
    pil = Image.fromarray((img * 255).astype(np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(pil)
    xy = prediction.xy * scale
    names = list(prediction.names)
    for side in ("right", "left"):
        if {f"femur_{side}", f"ankle_{side}"} <= set(names):
            a, b = xy[names.index(f"femur_{side}")], xy[names.index(f"ankle_{side}")]
            if np.isfinite(a).all() and np.isfinite(b).all():
                draw.line((*a, *b), fill=(255, 255, 255), width=1)
    for i, name in enumerate(names):
        if not prediction.present[i]:
            continue
        x, y = xy[i]
        colour = rgb(i)
        r = 6
        if prediction.confidence[i] >= LOW_CONFIDENCE:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        else:
            draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=2)
        draw.text((x + 8, y - 6), f"{name} {prediction.confidence[i]:.2f}", fill=colour)
    lines = [f"{side}: HKA {m['hka_deg']:+.1f}°, MAD {m['mad_mm']:+.1f} mm, length {m['length_mm']:.0f} mm"
             for side, m in prediction.alignment.items() if isinstance(m, dict)]  # fmt: skip
    absent = [n for n, p in zip(names, prediction.present, strict=True) if not p]
    if absent:
        lines.append("absent: " + ", ".join(absent))
    for j, line in enumerate(lines):
        draw.text((4, 4 + 12 * j), line, fill=(255, 255, 0))
    with atomic_path(path) as tmp:
        pil.save(tmp, format="PNG")
    return Path(path)
