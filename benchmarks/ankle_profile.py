"""What the image does around the ankle landmark: the mean intensity profile along the leg.

For every labelled ankle of each folder, the image (bone-bright, scaled by its 1st–99th
percentiles) is sampled along the leg's tibial axis (truth knee → truth ankle) from 80 mm
above to 120 mm below the landmark, averaged across ±10 mm. The script prints each folder's
mean profile, the joint-line dip (the landmark's ±1 mm against 4–8 mm either side), where
the strongest brightening lies going distally, and optionally plots the profiles.

python benchmarks/ankle_profile.py /work/data/oai12m/train real synth_old=/tmp/old synth_new=/tmp/new \
    --plot docs/images/ankle_profiles.png
(each argument is ``FOLDER`` or ``LABEL=FOLDER``)
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d, map_coordinates

from apn_core.dataset import load_labelled_folder
from apn_core.io.radiograph import read_radiograph

V_MM = np.arange(-80.0, 121.0, 1.0)  # along the leg, + distal of the landmark
U_MM = np.arange(-10.0, 10.1, 1.0)


def ankle_profiles(folder: Path, limit: int | None = None) -> np.ndarray:
    """``(n, len(V_MM))``: one normalised profile per labelled ankle (NaN outside the image)."""
    data = load_labelled_folder(folder)
    names = data.landmarks.names
    out = []
    for item in data.items[:limit] if limit else data.items:
        pixels = read_radiograph(item.path, item.spacing, "landmarks.csv").pixels.astype(float)
        lo, hi = np.percentile(pixels, [1, 99])
        sy, sx = item.spacing
        for side in ("right", "left"):
            a, k = names.index(f"ankle_{side}"), names.index(f"knee_{side}")
            if not item.labels.present[a]:
                continue
            ankle = item.labels.xy[a] * [sx, sy]
            d = item.labels.xy[a] - item.labels.xy[k] if item.labels.present[k] else [0, 1]
            d = np.asarray(d, float) * [sx, sy]
            d /= np.linalg.norm(d)
            uu, vv = np.meshgrid(U_MM, V_MM)
            xs = ankle[0] + uu * d[1] + vv * d[0]
            ys = ankle[1] - uu * d[0] + vv * d[1]
            rows, cols = ys / sy, xs / sx
            vals = map_coordinates(pixels, [rows, cols], order=1, cval=np.nan)
            inside = (rows >= 0) & (rows <= pixels.shape[0] - 1)
            inside &= (cols >= 0) & (cols <= pixels.shape[1] - 1)
            vals[~inside] = np.nan
            with warnings.catch_warnings():  # rows wholly outside the image stay NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                profile = np.nanmean(vals, axis=1)
            out.append((profile - lo) / max(hi - lo, 1e-9))
    return np.array(out)


def summary(profiles: np.ndarray) -> dict[str, float]:
    """Joint dip (landmark ±1 mm minus the mean of 4–8 mm either side; median over ankles)
    and the median position of the strongest distal brightening within −30…+60 mm."""
    v = V_MM
    band = lambda lo, hi: np.nanmean(profiles[:, (v >= lo) & (v <= hi)], axis=1)  # noqa: E731
    dip = band(-1, 1) - 0.5 * (band(-8, -4) + band(4, 8))
    near = (v >= -30) & (v <= 60)
    filled = np.where(np.isfinite(profiles), profiles, np.nanmean(profiles))
    rise = np.gradient(gaussian_filter1d(filled, 2.0, axis=1), axis=1)[:, near]
    strongest = v[near][np.argmax(rise, axis=1)]
    return {
        "n": len(profiles),
        "joint_dip": float(np.nanmedian(dip)),
        "strongest_rise_mm": float(np.median(strongest)),
        "strongest_rise_iqr": tuple(float(q) for q in np.percentile(strongest, [25, 75])),
    }


def plot(curves: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2), dpi=100)
    for label, profiles in curves.items():
        ax.plot(V_MM, np.nanmean(profiles, axis=0), label=f"{label} (n={len(profiles)})")
    ax.axvline(0, color="k", lw=0.8, ls=":")
    ax.set_xlim(-40, 100)
    ax.set_xlabel("mm along the leg from the ankle landmark (+ distal)")
    ax.set_ylabel("mean intensity (1–99 % scaled)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="+", help="FOLDER or LABEL=FOLDER (labelled folders)")
    ap.add_argument("--limit", type=int, default=None, help="first N images of each folder")
    ap.add_argument("--plot", type=Path, default=None, help="write the mean profiles here")
    args = ap.parse_args(argv)
    curves = {}
    for spec in args.folders:
        label, _, folder = spec.rpartition("=")
        curves[label or Path(folder).name] = ankle_profiles(Path(folder), args.limit)
    print("mm:      " + " ".join(f"{int(v):>5d}" for v in range(-20, 61, 5)))
    for label, profiles in curves.items():
        mean = np.nanmean(profiles, axis=0)
        print(f"{label[:8]:8} " + " ".join(f"{mean[int(v + 80)]:5.2f}" for v in range(-20, 61, 5)))
    for label, profiles in curves.items():
        s = summary(profiles)
        print(
            f"{label}: n={s['n']} joint dip {s['joint_dip']:+.3f}; strongest distal brightening "
            f"at {s['strongest_rise_mm']:+.0f} mm (IQR {s['strongest_rise_iqr'][0]:+.0f} "
            f"to {s['strongest_rise_iqr'][1]:+.0f})"
        )
    if args.plot:
        plot(curves, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
