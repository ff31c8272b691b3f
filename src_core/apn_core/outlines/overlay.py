"""A picture to check derived landmarks by eye: hip, knee and ankle of each leg, enlarged.

Each crop shows the outlines (femur red, tibia green), the construction points (yellow:
compartment levels of condyles and plateau, notch, spines, plafond ends, malleolus tip),
the femoral head's fitted circle (cyan) and the landmark (magenta cross). Checking every
derived landmark this way is part of importing outlines: a definition applied to a
sloppy outline gives a confident wrong point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from apn_core.inference.overlay import overlay_base
from apn_core.outlines.derive import LegLandmarks
from apn_core.utils.atomic import atomic_path

CROP_SHARE = 0.07  # crop height as a share of the image height
CROP_PX = 220  # height of each crop in the picture


def draw_derivation(
    pixels: np.ndarray, legs: list[LegLandmarks], outlines: list[tuple[str, np.ndarray]], title: str
):
    """A Pillow image: one row per leg, three crops (hip, knee, ankle)."""
    from PIL import Image, ImageDraw

    base = overlay_base(pixels, height=pixels.shape[0])
    h, w = base.shape
    half = max(8, int(CROP_SHARE * h / 2))
    scale = CROP_PX / (2 * half)
    cw = round(min(w, 4 * half) * scale)
    rows = []
    for leg in legs:
        crops = []
        # each crop is titled with its landmark's name, as in landmarks.csv (femur_right)
        for name, xy in (("femur", leg.hip), ("knee", leg.knee), ("ankle", leg.ankle)):
            cx = float(xy[0]) if np.isfinite(xy[0]) else w / 2
            cy = float(xy[1]) if np.isfinite(xy[1]) else h / 2
            x0 = int(np.clip(cx - 2 * half, 0, max(0, w - 4 * half)))
            y0 = int(cy - half)
            box = (x0, y0, x0 + min(w, 4 * half), y0 + 2 * half)
            crop = Image.fromarray(base).crop(box).convert("RGB")
            crop = crop.resize((cw, CROP_PX), Image.BICUBIC)
            d = ImageDraw.Draw(crop)

            def tr(p, box=box):
                return ((p[0] - box[0] + 0.5) * scale, (p[1] - box[1] + 0.5) * scale)

            for bone, pts in outlines:
                line = [tr(p) for p in pts]
                d.line([*line, line[0]], fill=(255, 60, 60) if bone == "femur" else (60, 220, 60))
            if name == "femur" and leg.head is not None:
                (x, y), r = tr(leg.head.centre), leg.head.radius * scale
                d.ellipse([x - r, y - r, x + r, y + r], outline=(0, 230, 230))
            for p in leg.details.values():
                x, y = tr(p)
                d.ellipse([x - 3, y - 3, x + 3, y + 3], outline=(255, 230, 0))
            if np.all(np.isfinite(xy)):
                x, y = tr(xy)
                d.line([x - 9, y, x + 9, y], fill=(255, 0, 255), width=2)
                d.line([x, y - 9, x, y + 9], fill=(255, 0, 255), width=2)
            d.text((4, 4), f"{name}_{leg.side}", fill=(255, 255, 0))
            crops.append(crop)
        row = Image.new("RGB", (3 * cw + 8, CROP_PX))
        for i, c in enumerate(crops):
            row.paste(c, (i * (cw + 4), 0))
        rows.append(row)
    width = rows[0].width if rows else 3 * cw + 8
    sheet = Image.new("RGB", (width, 18 + len(rows) * (CROP_PX + 4)))
    ImageDraw.Draw(sheet).text((4, 3), title, fill=(255, 255, 255))
    for i, row in enumerate(rows):
        sheet.paste(row, (0, 18 + i * (CROP_PX + 4)))
    return sheet


def save_derivation(path: str | Path, *args, **kwargs) -> Path:
    """Write :func:`draw_derivation`'s picture as a PNG, atomically."""
    with atomic_path(path) as tmp:
        draw_derivation(*args, **kwargs).save(tmp, format="PNG")
    return Path(path)
