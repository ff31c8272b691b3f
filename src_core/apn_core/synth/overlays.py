"""What is burned into the displayed pixels after processing: electronic shutters over the
collimated borders, text (institution, date, view, exposure) and padding to a canvas.

Sizes are in millimetres, so an image looks the same at any pixel spacing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from apn_core.synth.draws import Draws, chance, pick, uniform

WORDS = (
    "STANDING",
    "LONG LEG",
    "AP",
    "WEIGHT BEARING",
    "BILATERAL",
    "STITCHED",
    "FULL LEG",
    "kVp 85",
    "mAs 16",
    "DR",
    "CR",
    "PORTABLE",
    "ERECT",
    "SCANOGRAM",
    "RADIOLOGY",
    "ORTHO",
)


@dataclass(frozen=True)
class OverlayPriors:
    """Distributions of what is burned into the image after processing.

    shutter: probability that collimated borders are blanked (electronic shutter), black
        or white.
    text: probability of burned-in text; ``text_lines`` up to that many lines in one or two
        corners or edges, ``text_mm`` letter height; white, black or grey, sometimes on a box.
    padding: probability of padding around the image (an export onto a fixed canvas);
        ``padding_mm`` per padded side; bright or dark.
    """

    shutter: float = 0.5
    text: float = 0.3
    text_lines: int = 3
    text_mm: tuple[float, float] = (3.0, 9.0)
    padding: float = 0.0
    padding_mm: tuple[float, float] = (5.0, 80.0)


@dataclass
class Overlays:
    """The overlays of one radiograph (saved in the case metadata).

    texts: (text, x_frac, y_frac, height_mm, grey, boxed) per line, position as fractions
        of the image; padding_mm: (left, right, top, bottom); boxes: filled in when drawn,
        (x0, y0, x1, y1) px of each text in the final image.
    """

    shutter: float | None
    texts: list[tuple[str, float, float, float, float, bool]]
    padding_mm: tuple[float, float, float, float]
    padding_grey: float
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)

    @classmethod
    def sample(cls, draws: Draws, pri: OverlayPriors) -> Overlays:
        rng = draws("overlays")
        shutter = float(pick(rng, (0.0, 1.0)))
        shutter_on = chance(rng, pri.shutter)
        texts = []
        n_lines = int(rng.integers(1, max(pri.text_lines, 1) + 1))
        corner = (float(rng.uniform(0.01, 0.2)), float(rng.choice([0.01, 0.5, 0.9])))
        height = uniform(rng, pri.text_mm)
        grey = float(pick(rng, (1.0, 1.0, 0.0, 0.75)))
        boxed = chance(rng, 0.25)
        for line in range(n_lines):
            words = [str(pick(rng, WORDS)) for _ in range(int(rng.integers(1, 3)))]
            if chance(rng, 0.4):
                words.append(
                    f"{int(rng.integers(1, 29)):02d}.{int(rng.integers(1, 13)):02d}.20{int(rng.integers(10, 26))}"
                )
            y = corner[1] + line * 0.018
            texts.append((" ".join(words), corner[0], y, height, grey, boxed))
        text_on = chance(rng, pri.text)
        pads = tuple(uniform(rng, pri.padding_mm) * chance(rng, 0.6) for _ in range(4))
        if not any(pads):
            pads = (pads[0] or pri.padding_mm[0], *pads[1:])
        pad_grey = float(pick(rng, (0.0, 1.0, 0.05, 0.95)))
        pad_on = chance(rng, pri.padding)
        return cls(
            shutter=shutter if shutter_on else None,
            texts=texts if text_on else [],
            padding_mm=pads if pad_on else (0.0, 0.0, 0.0, 0.0),  # type: ignore[arg-type]
            padding_grey=pad_grey,
        )


@lru_cache(maxsize=256)
def text_mask(text: str, height_px: int) -> np.ndarray:
    """Coverage (0–1, float32) of ``text`` written ``height_px`` pixels high (Pillow's font)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=max(int(height_px), 4))
    x0, y0, x1, y1 = font.getbbox(text)
    img = Image.new("L", (max(x1 - x0, 1), max(y1 - y0, 1)), 0)
    ImageDraw.Draw(img).text((-x0, -y0), text, fill=255, font=font)
    return np.asarray(img, dtype=np.float32) / 255.0


def apply_overlays(
    v: np.ndarray, spacing: float, ov: Overlays, collimated: np.ndarray | None
) -> tuple[np.ndarray, tuple[int, int]]:
    """Burn shutters and text into ``v`` (0–1) and pad it; returns the image and the
    (dx, dy) px by which the padding moved the content."""
    if ov.shutter is not None and collimated is not None:
        v[collimated] = ov.shutter
    rows, cols = v.shape
    for text, fx, fy, height_mm, grey, boxed in ov.texts:
        mask = text_mask(text, round(height_mm / spacing))
        h, w = mask.shape
        x0, y0 = round(fx * cols), round(fy * rows)
        x0, y0 = min(x0, max(cols - w, 0)), min(y0, max(rows - h, 0))
        patch = v[y0 : y0 + h, x0 : x0 + w]
        m = mask[: patch.shape[0], : patch.shape[1]]
        if boxed:
            patch[:] = 1.0 - grey if grey > 0.5 else 1.0
        patch[:] = patch * (1 - m) + grey * m
        ov.boxes.append((x0, y0, x0 + patch.shape[1], y0 + patch.shape[0]))
    left, right, top, bottom = (round(p / spacing) for p in ov.padding_mm)
    if left or right or top or bottom:
        v = np.pad(v, ((top, bottom), (left, right)), constant_values=ov.padding_grey)
        ov.boxes = [(a + left, b + top, c + left, d + top) for a, b, c, d in ov.boxes]
    return v, (left, top)
