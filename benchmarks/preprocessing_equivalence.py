"""Does the integer-input preprocessing give the landmarks the float32 one gave?

Writes ``-n`` full-size synthetic radiographs (``apn synth`` at 0.143 mm/px: DICOM incl.
MONOCHROME1, TIFF, 8/16-bit PNG, JPEG), reads each with ``read_radiograph`` and builds
the network input twice: as before (the whole image as float32 through
``torch.nn.functional.interpolate(mode="bilinear", antialias=True)``, then normalised)
and as now (``apn_core.geometry.network_input`` on the stored pixels). Both go through the
bundled model (flip test on, as shipped); prints the largest difference of the inputs and
of the predicted landmarks in mm, and whether presence agrees.

    python benchmarks/preprocessing_equivalence.py -n 20
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def float_reference(pixels: np.ndarray, geometry) -> tuple[np.ndarray, object]:
    """The preprocessing before: float32 copy → torch antialiased resize → normalise."""
    import torch
    import torch.nn.functional as F

    from apn_core.geometry import Letterbox, normalise_intensity

    box = Letterbox.fit(pixels.shape, geometry)
    t = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None, None]
    small = F.interpolate(
        t, size=box.resized_shape, mode="bilinear", antialias=True, align_corners=False
    )[0, 0].numpy()
    return box.pad(normalise_intensity(small)), box


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1300)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    import torch

    from apn_core.dataset import load_labelled_folder
    from apn_core.geometry import network_input
    from apn_core.inference import Predictor
    from apn_core.io import read_radiograph
    from apn_core.synth import SynthConfig, write_synthetic_folder

    predictor = Predictor.load("default")
    geometry = predictor.config.geometry

    def landmarks(boxed, box, spacing):
        out = predictor.forward(torch.from_numpy(boxed)[None, None]).sample(0)
        return predictor.finish(out, box, spacing)

    worst_input = worst_mm = 0.0
    agree = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_synthetic_folder(
            Path(tmp) / "full", args.n, args.seed, SynthConfig(spacing_mm=0.143), args.workers
        )
        items = load_labelled_folder(folder).items
        print("| image | stored | photometric | max input Δ | max landmark Δ (mm) |")
        print("| --- | --- | --- | ---: | ---: |")
        for item in items:
            r = read_radiograph(item.path)
            before, box = float_reference(r.pixels, geometry)
            now, _ = network_input(r.pixels, geometry)
            a, b = landmarks(before, box, item.spacing), landmarks(now, box, item.spacing)
            d_input = float(np.abs(before - now).max())
            both = a.present & b.present
            d_mm = float(np.abs(a.xy_mm[both] - b.xy_mm[both]).max()) if both.any() else 0.0
            agree &= bool((a.present == b.present).all())
            worst_input, worst_mm = max(worst_input, d_input), max(worst_mm, d_mm)
            print(
                f"| {item.path.name} | {r.pixels.dtype} | {r.photometric} | {d_input:.1e} "
                f"| {d_mm:.5f} |"
            )
    print()
    print(
        f"{len(items)} full-size images: max |Δ input| {worst_input:.1e} (0–1 scale), "
        f"max |Δ landmark| {worst_mm:.5f} mm, presence identical: {agree}"
    )


if __name__ == "__main__":
    main()
