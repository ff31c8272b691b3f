"""Perturbations of a labelled radiograph: what ``apn calibrate --perturb`` adds to a
calibration folder, and what the robustness and calibration benchmarks measure.

Each perturbation maps a :class:`Sample` (bone-bright pixels, landmarks, spacing) to a new
one; landmarks move with the pixels, and landmarks that leave the image become *absent*
(annotated, NaN). Intensity perturbations keep the image's value range. The robustness
table's kinds (:data:`PERTURBATIONS`, issue 11.4):

    jpeg_q30        stored as an 8-bit JPEG of quality 30 and decoded again
    blur_2px        Gaussian blur, σ = 2 px
    gamma_0.5/2     gamma on the min–max normalised image
    window_50       contrast windowed to the central 50 % of the 0.5–99.5 percentile range
    8bit            quantised to 256 grey levels
    mono1_dicom     stored as a 12-bit MONOCHROME1 DICOM (inverted LUT, declared) and read
                    back through apn_core.io
    text            bright burned-in text (~15 mm tall) beside a random present landmark
    rotate_+10/-10  rotated by ±10° about the centre (canvas grows; positive = clockwise
                    on screen)
    crop_top_20 / crop_bottom_20   the top / bottom 20 % of the rows removed

:data:`SEVERE` adds changes that make a model fail (bone dark without the declaration,
gamma 4, a 20 % window, 30° rotation, heavy noise, a 50 mm metal square over a landmark,
40 % crop, 6 px blur): a calibration needs errors to learn what one looks like, and a
model that is right on every clean image makes none.

:data:`NO_LEG` crops a film to the middle of the thighs or shanks — no landmark left in it:
the true negatives of "probably in the image" (a chest or hand film is no leg either).

:data:`STANDARD` is the set the bundled model's calibration was fitted with, with the two
:data:`NO_LEG` cuts (every other robustness kind and every other severe kind; the rest stay
unseen, to test it): ``apn calibrate DATA --perturb standard,no_leg_thigh,no_leg_shank``. Each image's perturbation is seeded by its
index, so a rerun gives the same images. ``benchmarks/perturbations.py`` writes perturbed
labelled folders.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from apn_core.io import read_radiograph, write_dicom
from apn_core.landmarks import DEFAULT_LANDMARKS

TEXT = "R STANDING 12.03"
TEXT_HEIGHT_MM = 15.0
TEXT_GAP_MM = 15.0


@dataclass
class Sample:
    """One labelled image. pixels: ``(rows, cols)`` float32 bone bright. xy: ``(K, 2)``
    image (x=col, y=row) px, NaN unless present. annotated: ``(K,)`` bool. spacing: (row,
    col) mm/px. bits: 8 when the perturbation left an 8-bit image (stored as such)."""

    pixels: np.ndarray
    xy: np.ndarray
    annotated: np.ndarray
    spacing: tuple[float, float]
    bits: int = 16
    names: tuple[str, ...] = DEFAULT_LANDMARKS.names  # of the K landmarks, in order

    @property
    def present(self) -> np.ndarray:
        return self.annotated & np.isfinite(self.xy).all(axis=1)


def _range(pixels: np.ndarray) -> tuple[float, float]:
    lo, hi = float(np.min(pixels)), float(np.max(pixels))
    return lo, max(hi, lo + 1e-6)


def _unit(pixels: np.ndarray) -> tuple[np.ndarray, float, float]:
    lo, hi = _range(pixels)
    return (pixels.astype(np.float64) - lo) / (hi - lo), lo, hi


def _back(unit: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (lo + np.clip(unit, 0.0, 1.0) * (hi - lo)).astype(np.float32)


def jpeg(s: Sample, rng=None, quality: int = 30) -> Sample:
    from PIL import Image

    u, lo, hi = _unit(s.pixels)
    buf = io.BytesIO()
    Image.fromarray(np.round(u * 255).astype(np.uint8)).save(buf, format="JPEG", quality=quality)
    decoded = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float64) / 255
    return replace(s, pixels=_back(decoded, lo, hi), bits=8)


def blur(s: Sample, rng=None, sigma: float = 2.0) -> Sample:
    from scipy.ndimage import gaussian_filter

    return replace(s, pixels=gaussian_filter(s.pixels.astype(np.float32), sigma))


def gamma(s: Sample, rng=None, g: float = 2.0) -> Sample:
    u, lo, hi = _unit(s.pixels)
    return replace(s, pixels=_back(u**g, lo, hi))


def window(s: Sample, rng=None, keep: float = 0.5) -> Sample:
    """Clip to the central ``keep`` of the 0.5–99.5 percentile range, stretch to the range."""
    p_lo, p_hi = np.percentile(s.pixels, [0.5, 99.5])
    margin = (1 - keep) / 2 * (p_hi - p_lo)
    w_lo, w_hi = p_lo + margin, p_hi - margin
    lo, hi = _range(s.pixels)
    return replace(s, pixels=_back((s.pixels - w_lo) / max(w_hi - w_lo, 1e-6), lo, hi))


def quantise(s: Sample, rng=None, levels: int = 256) -> Sample:
    u, lo, hi = _unit(s.pixels)
    return replace(s, pixels=_back(np.round(u * (levels - 1)) / (levels - 1), lo, hi), bits=8)


def monochrome1(s: Sample, rng=None, bits: int = 12) -> Sample:
    """Store bone dark in a MONOCHROME1 DICOM (as declared) and read it back."""
    u, _, _ = _unit(s.pixels)
    top = 2**bits - 1
    stored = (top - np.round(u * top)).astype(np.uint16)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_dicom(Path(tmp) / "mono1.dcm", stored, s.spacing, "MONOCHROME1", bits)
        radiograph = read_radiograph(path)
    return replace(s, pixels=radiograph.pixels)


def burned_text(s: Sample, rng=None) -> Sample:
    """Bright text ~15 mm tall, its near edge 15 mm lateral of a random present landmark."""
    from PIL import Image, ImageDraw, ImageFont

    rng = rng if rng is not None else np.random.default_rng(0)
    present = np.flatnonzero(s.present)
    if present.size == 0:
        return s
    k = int(rng.choice(present))
    x, y = s.xy[k]
    rows, cols = s.pixels.shape
    size = max(6, round(TEXT_HEIGHT_MM / s.spacing[0]))
    font = ImageFont.load_default(size=size)
    mask = Image.new("L", (cols, rows), 0)
    draw = ImageDraw.Draw(mask)
    left, top, right, bottom = draw.textbbox((0, 0), TEXT, font=font)
    gap = TEXT_GAP_MM / s.spacing[1]
    width = right - left
    # lateral: the image's left for a landmark left of centre, right otherwise
    x0 = x - gap - width if x < cols / 2 else x + gap
    draw.text((x0 - left, y - (bottom + top) / 2), TEXT, fill=255, font=font)
    alpha = np.asarray(mask, dtype=np.float32) / 255
    _, hi = _range(s.pixels)
    pixels = s.pixels * (1 - alpha) + np.float32(hi) * alpha
    return replace(s, pixels=pixels.astype(np.float32))


def rotate(s: Sample, rng=None, degrees: float = 10.0) -> Sample:
    """Rotate about the image centre, growing the canvas to keep every pixel; the new
    corners get the image's 1st-percentile value (air). Positive = clockwise on screen."""
    from scipy.ndimage import affine_transform

    t = np.deg2rad(degrees)
    c, si = np.cos(t), np.sin(t)
    rows, cols = s.pixels.shape
    cx, cy = (cols - 1) / 2, (rows - 1) / 2
    corners = np.array([[-cx, -cy], [cx, -cy], [-cx, cy], [cx, cy]])
    rx = c * corners[:, 0] - si * corners[:, 1]
    ry = si * corners[:, 0] + c * corners[:, 1]
    new_cols, new_rows = int(np.ceil(np.ptp(rx))) + 1, int(np.ceil(np.ptp(ry))) + 1
    ncx, ncy = (new_cols - 1) / 2, (new_rows - 1) / 2
    # input (row, col) = M · output (row, col) + offset  (the inverse rotation)
    matrix = np.array([[c, -si], [si, c]])
    offset = np.array([cy, cx]) - matrix @ np.array([ncy, ncx])
    background = float(np.percentile(s.pixels, 1))
    pixels = affine_transform(
        s.pixels.astype(np.float32), matrix, offset, (new_rows, new_cols), order=1, cval=background
    )
    dx, dy = s.xy[:, 0] - cx, s.xy[:, 1] - cy
    xy = np.stack([c * dx - si * dy + ncx, si * dx + c * dy + ncy], axis=1)
    return replace(s, pixels=pixels, xy=xy)


def crop(s: Sample, rng=None, fraction: float = 0.2, side: str = "top") -> Sample:
    """Remove ``fraction`` of the rows at the top or bottom; landmarks outside → absent."""
    rows = s.pixels.shape[0]
    cut = round(fraction * rows)
    if side == "top":
        pixels, xy = s.pixels[cut:], s.xy - np.array([0.0, cut])
    elif side == "bottom":
        pixels, xy = s.pixels[: rows - cut], s.xy.copy()
    else:
        raise ValueError(f"side must be 'top' or 'bottom', got {side!r}")
    inside = (xy[:, 1] >= -0.5) & (xy[:, 1] <= pixels.shape[0] - 0.5)
    xy[~inside] = np.nan
    return replace(s, pixels=np.ascontiguousarray(pixels), xy=xy)


Perturbation = Callable[[Sample, np.random.Generator | None], Sample]
PERTURBATIONS: dict[str, Perturbation] = {
    "jpeg_q30": jpeg,
    "blur_2px": blur,
    "gamma_0.5": partial(gamma, g=0.5),
    "gamma_2": partial(gamma, g=2.0),
    "window_50": window,
    "8bit": quantise,
    "mono1_dicom": monochrome1,
    "text": burned_text,
    "rotate_+10": partial(rotate, degrees=10.0),
    "rotate_-10": partial(rotate, degrees=-10.0),
    "crop_top_20": partial(crop, fraction=0.2, side="top"),
    "crop_bottom_20": partial(crop, fraction=0.2, side="bottom"),
}


def inverted_undeclared(s: Sample, rng=None) -> Sample:
    """Bone dark, as a MONOCHROME1 image read without its inversion would be."""
    lo, hi = _range(s.pixels)
    return replace(s, pixels=(np.float32(lo + hi) - s.pixels).astype(np.float32))


def noise(s: Sample, rng=None, fraction: float = 0.15) -> Sample:
    """Gaussian noise of ``fraction`` × the value range per pixel."""
    rng = rng if rng is not None else np.random.default_rng(0)
    lo, hi = _range(s.pixels)
    return replace(
        s,
        pixels=(s.pixels + rng.normal(0, fraction * (hi - lo), s.pixels.shape)).astype(np.float32),
    )


def occlude(s: Sample, rng=None, size_mm: float = 50.0) -> Sample:
    """A bright (metal-like) square of ``size_mm`` centred on a random present landmark."""
    rng = rng if rng is not None else np.random.default_rng(0)
    present = np.flatnonzero(s.present)
    if present.size == 0:
        return s
    x, y = s.xy[int(rng.choice(present))]
    ry, rx = size_mm / 2 / s.spacing[0], size_mm / 2 / s.spacing[1]
    pixels = s.pixels.copy()
    pixels[max(0, round(y - ry)) : round(y + ry) + 1, max(0, round(x - rx)) : round(x + rx) + 1] = (
        pixels.max()
    )
    return replace(s, pixels=pixels)


def no_leg(s: Sample, rng=None, part: str = "thigh") -> Sample:
    """A film with no landmark in it: the middle half of the thighs (``part="thigh"``, between
    the lowest hip and the highest knee) or of the shanks (knee to ankle), every landmark absent.

    What a chest or hand radiograph, or a film of the wrong region, is to the model: a
    calibration needs such images so that "probably in the image" is not said of
    landmarks a film cannot show. Without the two joints, the middle third of the rows."""
    rows = s.pixels.shape[0]
    top_names, bottom_names = {"thigh": ("femur", "knee"), "shank": ("knee", "ankle")}[part]
    ys = {}
    for name in (top_names, bottom_names):
        idx = [i for i, n in enumerate(s.names) if n.startswith(name)]
        y = s.xy[idx, 1] if idx else np.array([])
        ys[name] = y[np.isfinite(y)]
    if len(ys[top_names]) and len(ys[bottom_names]):
        a, b = float(ys[top_names].max()), float(ys[bottom_names].min())
        lo, hi = a + 0.25 * (b - a), b - 0.25 * (b - a)
    else:
        lo, hi = rows / 3, 2 * rows / 3
    lo, hi = max(0, round(lo)), min(rows, round(hi))
    if hi - lo < 16:
        lo, hi = rows // 3, 2 * rows // 3
    xy = np.full_like(s.xy, np.nan)
    return replace(s, pixels=np.ascontiguousarray(s.pixels[lo:hi]), xy=xy)


# Beyond the robustness table: severe changes that make the model fail, so that a
# calibration has errors for the confidence to learn from.
SEVERE: dict[str, Perturbation] = {
    "inverted_undeclared": inverted_undeclared,
    "gamma_4": partial(gamma, g=4.0),
    "window_20": partial(window, keep=0.2),
    "rotate_+30": partial(rotate, degrees=30.0),
    "noise_15": noise,
    "occlude_50mm": occlude,
    "crop_top_40": partial(crop, fraction=0.4, side="top"),
    "blur_6px": partial(blur, sigma=6.0),
}
# Films with no landmark at all (the presence calibration's true negatives)
NO_LEG: dict[str, Perturbation] = {
    "no_leg_thigh": partial(no_leg, part="thigh"),
    "no_leg_shank": partial(no_leg, part="shank"),
}
ALL = {**PERTURBATIONS, **SEVERE, **NO_LEG}
# the bundled model's calibration: every other robustness kind and every other severe one
STANDARD = (*list(PERTURBATIONS)[0::2], *list(SEVERE)[0::2])


def perturb(name: str, sample: Sample, seed: int = 0) -> Sample:
    """Apply the perturbation ``name`` (seeded, so a rerun gives the same image);
    :class:`KeyError` names the known kinds."""
    try:
        fn = ALL[name]
    except KeyError:
        raise KeyError(f"unknown perturbation {name!r}; known: {', '.join(ALL)}") from None
    return fn(sample, np.random.default_rng(seed))


def parse_kinds(text: str) -> tuple[str, ...]:
    """``--perturb`` text → kinds: ``standard`` (:data:`STANDARD`), ``none``, or names
    separated by commas; :class:`ValueError` names the known kinds."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    kinds: list[str] = []
    for word in words:
        if word == "standard":
            kinds += STANDARD
        elif word in ALL:
            kinds.append(word)
        elif word != "none":
            raise ValueError(
                f"unknown perturbation {word!r}; use standard, none or names from {', '.join(ALL)}"
            )
    return tuple(dict.fromkeys(kinds))


def sample_of(item, names: tuple[str, ...] = DEFAULT_LANDMARKS.names) -> Sample:
    """A LabelledImage's pixels (read now), landmarks and spacing as a :class:`Sample`."""
    lab = item.labels
    pixels = read_radiograph(item.path).pixels
    return Sample(pixels, lab.xy.copy(), lab.annotated.copy(), item.spacing, names=names)


def load_samples(folder, n: int | None = None):
    """``(image name, Sample)`` of the first ``n`` items of a LabelledFolder (pixels read)."""
    for item in folder.items[:n]:
        yield item.labels.image, sample_of(item, folder.landmarks.names)
