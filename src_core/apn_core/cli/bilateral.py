"""``apn bilateral DATA --out OUT``: two-leg training images from one-leg films.

Each image of OUT puts one of DATA's one-leg films on the image's left (the patient's right
leg) beside another one's leg, mirrored where needed, on the right — scaled, levelled and
intensity-matched as one bilateral exposure would show them
(:mod:`apn_core.dataset.bilateral`). OUT is a labelled folder (PNG images, landmarks.csv
with spacing_mm, and bilateral.json naming the two source films of each image); the same
``--seed`` gives the same images. An OUT that already holds a ``landmarks.csv`` (a
labelled folder: its labels would be replaced) is refused unless ``--force``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from apn_core.cli.common import (
    add_landmarks_option,
    add_spacing_option,
    load_landmarks,
    non_negative_int,
    positive_int,
    progress_bar,
)
from apn_core.errors import FileProblem


def register(sub) -> None:
    p = sub.add_parser(
        "bilateral", help="two-leg training images from one-leg films", description=__doc__
    )
    p.add_argument("data", type=Path, help="labelled folder of one-leg films")
    p.add_argument("--out", type=Path, required=True, help="labelled folder to write")
    p.add_argument("-n", type=positive_int, help="number of images (default: one per film)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a folder that already holds a landmarks.csv (replacing it)",
    )
    add_spacing_option(p)
    add_landmarks_option(p)
    p.set_defaults(func=run)


def _stored(pixels: np.ndarray, like: np.dtype) -> np.ndarray:
    if like == np.uint8 or like == np.uint16:
        info = np.iinfo(like)
        return np.clip(np.rint(pixels), info.min, info.max).astype(like)
    return pixels.astype(np.float32)


def run(args) -> int:
    from apn_core.annotations import write_landmarks_csv
    from apn_core.dataset import load_labelled_folder
    from apn_core.dataset.bilateral import OneLeg, compose, leg_side, missing_leg_landmarks
    from apn_core.io import read_radiograph
    from apn_core.utils.atomic import atomic_path, write_text_atomic

    if args.out.resolve() == Path(args.data).resolve():
        raise FileProblem(args.out, "must not be DATA")
    if (args.out / "landmarks.csv").exists() and not args.force:
        raise FileProblem(
            args.out,
            "already holds a landmarks.csv (a labelled folder? its labels would be replaced); "
            "choose a new folder or pass --force",
        )
    landmarks = load_landmarks(args.landmarks)
    if missing := missing_leg_landmarks(landmarks):
        raise FileProblem(
            args.landmarks,
            f"apn bilateral composes legs by their femur, knee and ankle landmarks; the set "
            f"has no {', '.join(missing)}",
        )
    folder = load_labelled_folder(args.data, landmarks, args.spacing)
    folder.raise_for_errors()
    films = [it for it in folder.items if leg_side(it.labels, landmarks) is not None]
    if len(films) < 2:
        raise FileProblem(args.data, f"{len(films)} one-leg film(s); at least two are needed")
    n = args.n or len(films)
    rng = np.random.default_rng(args.seed)
    labels, pairs = [], {}
    update, close = progress_bar("composing", "img")
    try:
        for j in range(n):
            ia = j % len(films)
            ib = int(rng.integers(len(films) - 1))
            ib += ib >= ia
            legs = []
            for it in (films[ia], films[ib]):
                r = read_radiograph(it.path)
                legs.append(OneLeg(r.pixels, it.labels, it.spacing))
            name = (
                f"bilateral_{j:04d}.png"
                if legs[0].pixels.dtype.kind in "ui"
                else f"bilateral_{j:04d}.tif"
            )
            pixels, lab = compose(legs[0], legs[1], landmarks, rng, name)
            lab.spacing = films[ia].spacing
            stored = _stored(pixels, legs[0].pixels.dtype)
            with atomic_path(args.out / name) as tmp:
                if name.endswith(".png"):
                    from PIL import Image

                    Image.fromarray(stored).save(tmp, format="PNG")
                else:
                    from apn_core.io.writers import write_tiff

                    write_tiff(tmp, stored, films[ia].spacing)
            labels.append(lab)
            pairs[name] = [films[ia].labels.image, films[ib].labels.image]
            update(j + 1, n)
    finally:
        close()
    write_landmarks_csv(args.out / "landmarks.csv", labels, landmarks)
    record = {"source": str(Path(args.data).resolve()), "seed": args.seed, "pairs": pairs}
    write_text_atomic(args.out / "bilateral.json", json.dumps(record, indent=1) + "\n")
    print(f"{args.out}: {n} two-leg image(s) from {len(films)} one-leg film(s)")
    return 0
