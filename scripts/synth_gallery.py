"""Draw a few synthetic long-leg radiographs with their ground-truth landmarks (README picture).

python scripts/synth_gallery.py docs/images/synth_gallery.png
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from apn_core.landmarks import DEFAULT_LANDMARKS
from apn_core.palette import rgb
from apn_core.synth import SynthConfig, generate_case

log = logging.getLogger("synth_gallery")

PANELS = (  # (title, config overrides, index)
    ("typical", {}, 0),
    ("hip + knee prostheses", {"hip_prosthesis_fraction": 1.0, "knee_prosthesis_fraction": 0.5}, 1),
    ("gonad shield, valgus/varus", {"shield_fraction": 1.0}, 4),
    ("restricted view", {"restricted_fraction": 1.0}, 3),
)


def panel(title: str, overrides: dict, index: int, seed: int, height: int) -> Image.Image:
    base = {
        "spacing_mm": 0.5,
        "hip_prosthesis_fraction": 0.0,
        "knee_prosthesis_fraction": 0.0,
        "shield_fraction": 0.0,
        "restricted_fraction": 0.0,
    }
    case = generate_case(seed, index, SynthConfig(**{**base, **overrides}))
    img = case.bone_bright.astype(np.float32) / (2**case.bits - 1)
    scale = height / img.shape[0]
    pil = (
        Image.fromarray((img * 255).astype(np.uint8))
        .resize((round(img.shape[1] * scale), height), Image.Resampling.LANCZOS)
        .convert("RGB")
    )
    draw = ImageDraw.Draw(pil)
    absent = []
    for i, name in enumerate(DEFAULT_LANDMARKS.names):
        if not case.present[i]:
            absent.append(name)
            continue
        x, y = case.xy[i] * scale
        r = 6
        draw.ellipse((x - r, y - r, x + r, y + r), outline=rgb(i), width=2)
        draw.line((x - r - 4, y, x + r + 4, y), fill=rgb(i))
        draw.line((x, y - r - 4, x, y + r + 4), fill=rgb(i))
        if case.occluded[i]:
            draw.text((x + 9, y - 6), "occl.", fill=rgb(i))
    draw.rectangle((0, 0, pil.width, 16), fill=(0, 0, 0))
    draw.text((4, 2), title, fill=(255, 255, 255))
    if absent:
        draw.text((4, 18), "absent: " + ", ".join(absent), fill=(255, 255, 120))
    return pil


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()
    panels = [panel(t, o, i, args.seed, args.height) for t, o, i in PANELS]
    width = sum(p.width for p in panels) + 6 * (len(panels) - 1)
    sheet = Image.new("RGB", (width, args.height), (255, 255, 255))
    x = 0
    for p in panels:
        sheet.paste(p, (x, 0))
        x += p.width + 6
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    logging.basicConfig(level=logging.INFO)
    log.info("wrote %s (%d×%d)", args.out, sheet.width, sheet.height)


if __name__ == "__main__":
    main()
