"""Draw synthetic long-leg radiographs with their ground-truth landmarks (README pictures).

python scripts/synth_gallery.py docs/images/synth_gallery.png              # four typical cases
python scripts/synth_gallery.py docs/images/synth_families.png --families  # two per family
python scripts/synth_gallery.py --table                                    # parameter table (Markdown)

Rings are the ground truth (read back as a reader would see the image: bone bright);
"occl." marks a landmark under metal or lead; absent landmarks (outside the image or
amputated) are listed in yellow.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from apn_core.landmarks import DEFAULT_LANDMARKS
from apn_core.palette import rgb
from apn_core.synth import SynthCase, SynthConfig, generate_case
from apn_core.synth.families import FAMILIES, INT_RANGES, SECTIONS, Family

log = logging.getLogger("synth_gallery")

PANELS = (  # (title, family, settings, index)
    (
        "typical (dr-clinic)",
        "dr-clinic",
        {"view.restricted": 0.0, "hardware.hip_replacement": 0.0},
        0,
    ),
    (
        "hip + knee replacements",
        "postop",
        {"hardware.hip_replacement": 1.0, "hardware.knee_replacement": 0.5},
        1,
    ),
    ("child, deformity (paeds)", "paeds-deformity", {"anatomy.child": 1.0}, 2),
    ("restricted view (cr-film)", "cr-film", {"view.restricted": 1.0}, 3),
)


# per family, what makes a good example (tried on cases 0, 1, 2, ... until two match)
def _whole(c: SynthCase) -> bool:
    return c.meta["restricted_view"] is None


WANTED = {
    "dr-clinic": (
        lambda c: c.present.all(),
        lambda c: _whole(c) and c.meta["accessories"]["markers"],
    ),
    "cr-film": (
        lambda c: _whole(c) and c.meta["acquisition"]["grid"] is not None,
        lambda c: _whole(c) and c.file_format == "dicom-mono1",
    ),
    "export-8bit": (
        lambda c: c.file_format == "jpeg" and any(c.meta["overlays"]["padding_mm"]),
        lambda c: _whole(c) and c.meta["processing"]["equaliser"] is not None,
    ),
    "postop": (
        lambda c: _whole(c) and len(c.meta["hardware"]) >= 2,
        lambda c: c.meta["amputation"] or len(c.meta["hardware"]) >= 3,
    ),
    "paeds-deformity": (
        lambda c: _whole(c) and c.meta["child"],
        lambda c: _whole(c) and not c.meta["child"],
    ),
}


def describe(case: SynthCase) -> str:
    """One line: storage, tone curve and the hardware of a case."""
    kinds = sorted(
        {h["kind"] if h["kind"] != "limb" else "prosthetic limb" for h in case.meta["hardware"]}
    )
    amputation = [f"{lvl} amputation" for lvl in case.meta["amputation"].values()]
    bits = f"{case.bits}-bit {case.file_format}"
    proc = case.meta["processing"]
    tone = proc["lut"] + (f"+{proc['equaliser']} eq." if proc["equaliser"] else "")
    return ", ".join([bits, tone, *kinds, *amputation])


def panel(case: SynthCase, title: str, height: int) -> Image.Image:
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
    lines = [title, *_wrap(describe(case), pil.width // 6)]
    draw.rectangle((0, 0, pil.width, 4 + 12 * len(lines)), fill=(0, 0, 0))
    for k, line in enumerate(lines):
        draw.text((4, 2 + 12 * k), line, fill=(255, 255, 255) if k == 0 else (190, 220, 255))
    if absent:
        draw.text((4, 6 + 12 * len(lines)), "absent: " + ", ".join(absent), fill=(255, 255, 120))
    return pil


def _wrap(text: str, width: int) -> list[str]:
    out, line = [], ""
    for word in text.split(" "):
        if line and len(line) + len(word) + 1 > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*out, line] if line else out


def family_examples(name: str, seed: int, spacing: float, n: int = 2) -> list[SynthCase]:
    """Cases of one family that show what it is about (see WANTED), in index order."""
    cfg = SynthConfig(spacing_mm=spacing, families=(name,))
    picked: list[SynthCase] = []
    for want in WANTED[name][:n]:
        for i in range(40):
            case = generate_case(seed, i, cfg)
            if want(case) and all(case.meta["index"] != p.meta["index"] for p in picked):
                picked.append(case)
                break
    return picked


def sheet(rows: list[list[Image.Image]], gap: int = 6) -> Image.Image:
    heights = [max(p.height for p in row) for row in rows]
    width = max(sum(p.width for p in row) + gap * (len(row) - 1) for row in rows)
    out = Image.new("RGB", (width, sum(heights) + gap * (len(rows) - 1)), (255, 255, 255))
    y = 0
    for row, h in zip(rows, heights, strict=True):
        x = 0
        for p in row:
            out.paste(p, (x, y))
            x += p.width + gap
        y += h + gap
    return out


def field_docs(cls) -> dict[str, str]:
    """``name: text`` entries of a priors class docstring; a field named inside another
    entry (``lld_max_mm``) gets that entry."""
    entries: dict[str, str] = {}
    current = None
    for line in (cls.__doc__ or "").splitlines():
        head, sep, rest = line.strip().partition(": ")
        if (
            line.startswith("    ")
            and not line.startswith("        ")
            and sep
            and head.isidentifier()
        ):
            current = head
            entries[current] = rest.strip()
        elif current and line.startswith("        "):
            entries[current] += " " + line.strip()
    for f in dataclasses.fields(cls):
        if f.name not in entries:
            owner = next((k for k, t in entries.items() if f"``{f.name}``" in t), None)
            entries[f.name] = f"see `{owner}`" if owner else ""
    return entries


def _fmt(value, key: str = "") -> str:
    if isinstance(value, tuple):
        if len(value) == 2 and (all(isinstance(v, float) for v in value) or key in INT_RANGES):
            return f"{value[0]:g}–{value[1]:g}"
        return ", ".join(str(v) for v in dict.fromkeys(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def print_table() -> None:
    """Markdown: every generator setting, its default and where a family differs."""
    names = list(FAMILIES)
    print("| setting | meaning | default | " + " | ".join(names) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in names) + " |")
    for section in SECTIONS:
        default = getattr(Family("x", ""), section)
        docs = field_docs(type(default))
        for f in dataclasses.fields(default):
            base = getattr(default, f.name)
            cells = []
            for name in names:
                value = getattr(getattr(FAMILIES[name], section), f.name)
                cells.append(_fmt(value, f"{section}.{f.name}") if value != base else "")
            text = docs[f.name].replace("|", "/")
            key = f"{section}.{f.name}"
            print(f"| `{key}` | {text} | {_fmt(base, key)} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, nargs="?")
    parser.add_argument("--table", action="store_true", help="print the parameter table and exit")
    parser.add_argument("--families", action="store_true", help="two examples per style family")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--spacing", type=float, default=0.7, help="mm/px rendered")
    args = parser.parse_args()
    if args.table:
        print_table()
        return
    if args.out is None:
        parser.error("give the picture's path (or --table)")
    logging.basicConfig(level=logging.INFO)
    if args.families:
        columns = [family_examples(name, args.seed, args.spacing) for name in FAMILIES]
        rows = [
            [
                panel(col[k], f"{name} #{col[k].meta['index']}", args.height)
                for name, col in zip(FAMILIES, columns, strict=True)
                if len(col) > k
            ]
            for k in range(2)
        ]
    else:
        rows = [
            [
                panel(
                    generate_case(
                        args.seed,
                        i,
                        SynthConfig(spacing_mm=args.spacing, families=(fam,), overrides=settings),
                    ),
                    title,
                    args.height,
                )
                for title, fam, settings, i in PANELS
            ]
        ]
    out = sheet(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.save(args.out, optimize=True)
    log.info("wrote %s (%d×%d)", args.out, out.width, out.height)


if __name__ == "__main__":
    main()
