"""``apn import labelme INPUT... --out DATA``: a labelled folder from LabelMe annotations.

Every ``*.json`` LabelMe file under each INPUT folder, and each INPUT file (with its image),
becomes an image of DATA, at its path below the folder, with its
landmarks in ``DATA/landmarks.csv``: points labelled with a landmark name are taken as
drawn; femur/tibia outlines become the hip, knee and ankle centres by the definitions in
:mod:`apn_core.outlines.derive`. DATA also gets ``labelme_import.json`` (what was derived
from what, per image) and, with ``--overlays``, one picture per image to check every
derived landmark by eye. Images are copied (``--link``: symbolically linked); when DATA is
the INPUT folder they stay where they are. Importing again replaces only the imported images'
rows.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from apn_core.cli.common import (
    add_landmarks_option,
    add_spacing_option,
    load_landmarks,
    progress_bar,
)
from apn_core.errors import AnnotationError, ApnError, FileProblem

log = logging.getLogger(__name__)

OTHER_SIDE = ("absent", "not-annotated")
RECORD = "labelme_import.json"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", ".bmp")


def register(sub) -> None:
    p = sub.add_parser(
        "import", help="make a labelled folder from other annotation formats", description=__doc__
    )
    formats = p.add_subparsers(dest="format", metavar="FORMAT")
    formats.required = True
    lm = formats.add_parser("labelme", help="LabelMe JSON files (points, femur/tibia outlines)")
    lm.add_argument(
        "inputs",
        type=Path,
        nargs="+",
        metavar="INPUT",
        help="folder searched (recursively) for LabelMe *.json files, or single *.json files",
    )
    lm.add_argument(
        "--out", type=Path, required=True, help="the labelled folder to write (may be INPUT)"
    )
    add_spacing_option(
        lm, "needed for PNG/JPEG: the ankle lies half a joint space (1.5 mm) below the plafond"
    )
    lm.add_argument(
        "--other-side",
        choices=OTHER_SIDE,
        default="not-annotated",
        help="landmarks of a leg with no shapes at all: 'absent' for one-leg films (the other "
        "leg is not in the image), 'not-annotated' (default) when nobody drew it",
    )
    lm.add_argument(
        "--link", action="store_true", help="link the images into --out instead of copying"
    )
    lm.add_argument(
        "--overlays", type=Path, metavar="DIR", help="write a check picture per image to DIR"
    )
    add_landmarks_option(lm)
    lm.set_defaults(func=run)


def _image_for(ann, json_path: Path) -> Path:
    if ann.image_path:
        return ann.image_file()
    for suffix in IMAGE_SUFFIXES:  # LabelMe names the image; a file without imagePath: same stem
        candidate = json_path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    raise AnnotationError(json_path, "no imagePath and no image with the same name beside it")


def _place(image: Path, dest: Path, link: bool) -> None:
    """Copy (atomically) or link ``image`` to ``dest`` unless it is already there."""
    if dest.exists() and dest.resolve() == image.resolve():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    if link:
        if dest.is_symlink() or dest.exists():
            dest.unlink()
        os.symlink(image.resolve(), dest)
        return
    from apn_core.utils.atomic import atomic_path

    with atomic_path(dest) as tmp:
        shutil.copyfile(image, tmp)


def _leg_record(leg) -> dict:
    def pt(p):
        return [round(float(p[0]), 3), round(float(p[1]), 3)] if np.all(np.isfinite(p)) else None

    head = None
    if leg.head is not None:
        head = {
            "centre": [round(v, 3) for v in leg.head.centre],
            "radius_px": round(leg.head.radius, 3),
            "rms_px": round(leg.head.rms, 3),
            "arc_deg": round(leg.head.coverage_deg, 1),
        }
    return {
        "side": leg.side,
        "hip": pt(leg.hip),
        "knee": pt(leg.knee),
        "ankle": pt(leg.ankle),
        "femoral_head": head,
        "construction": {k: pt(v) for k, v in leg.details.items()},
        "notes": leg.notes,
    }


def _labelme_files(inputs: list[Path], out: Path) -> list[tuple[Path, Path]]:
    """``(file, root)`` pairs: every LabelMe file under each folder (its root: the folder)
    and each file given (its root: its own folder). Images keep their path below the root."""
    found: dict[Path, Path] = {}
    for given in inputs:
        path = given.resolve()
        if path.is_file():
            found.setdefault(path, path.parent)
        elif path.is_dir():
            for p in sorted(path.rglob("*.json")):
                rel = p.relative_to(path)
                if (
                    not any(part.startswith(".") for part in rel.parts)
                    and out not in p.parents
                    and p.name != RECORD
                ):
                    found.setdefault(p, path)
        else:
            raise FileProblem(given, "not found" if not given.exists() else "not a file or folder")
    if not found:
        raise FileProblem(", ".join(map(str, inputs)), "no *.json files")
    return sorted(found.items())


def import_labelme(args, update=None) -> tuple[list, dict, list[str]]:
    """Import every LabelMe file of ``args.inputs``; returns (labels, records, failures)."""
    from apn_core.annotations.labelme import read_labelme
    from apn_core.io import read_radiograph
    from apn_core.outlines.labelme_labels import labels_from_labelme

    out = args.out.resolve()
    landmarks = load_landmarks(args.landmarks)
    files = _labelme_files(args.inputs, out)
    labels, records, failures = [], {}, []
    for n, (path, src) in enumerate(files, start=1):
        try:
            ann = read_labelme(path)
            image = _image_for(ann, path)
            try:
                rel = image.resolve().relative_to(src).as_posix()
            except ValueError:
                raise AnnotationError(
                    path, f"its image {ann.image_path!r} lies outside {src}"
                ) from None
            radiograph = read_radiograph(image, args.spacing, "--spacing")
            spacing = radiograph.spacing
            derivation = labels_from_labelme(
                ann,
                rel,
                landmarks,
                float(np.mean(spacing)) if spacing else None,
                args.other_side,
            )
            if ann.height and ann.width and (ann.height, ann.width) != radiograph.pixels.shape:
                derivation.notes.append(
                    f"LabelMe says {ann.width}x{ann.height} px, the image is "
                    f"{radiograph.pixels.shape[1]}x{radiograph.pixels.shape[0]}"
                )
            if spacing is not None and radiograph.spacing_source == "--spacing":
                derivation.labels.spacing = spacing
            _place(image, out / rel, args.link)
            if args.overlays:
                from apn_core.outlines.overlay import save_derivation

                outlines = [
                    (s.label.lower(), s.points) for s in ann.shapes if s.shape_type == "polygon"
                ]
                outlines = [
                    ("femur" if "femur" in b else "tibia", p)
                    for b, p in outlines
                    if "femur" in b or "tibia" in b
                ]
                save_derivation(
                    args.overlays / f"{rel}.png", radiograph.pixels, derivation.legs, outlines, rel
                )
        except ApnError as exc:
            failures.append(str(exc))
            continue
        labels.append(derivation.labels)
        records[rel] = {
            "labelme": path.relative_to(src).as_posix(),
            "legs": [_leg_record(leg) for leg in derivation.legs],
            "notes": derivation.notes,
        }
        if update:
            update(n, len(files))
    return labels, records, failures


def write_outputs(out: Path, labels: list, records: dict, landmarks, sources: list[Path]) -> None:
    """``landmarks.csv`` (only the imported images' rows replaced) and the import record."""
    from apn_core.annotations import ImageEdit, update_landmarks_csv, write_landmarks_csv
    from apn_core.outlines.derive import __doc__ as definitions
    from apn_core.utils.atomic import write_text_atomic
    from apn_core.utils.files import MAX_TABLE_BYTES, read_json

    csv = out / "landmarks.csv"
    if csv.exists():  # the one save path: only these images' rows change
        update_landmarks_csv(
            csv, [ImageEdit.from_labels(lab, landmarks) for lab in labels], landmarks
        )
    else:
        write_landmarks_csv(csv, labels, landmarks)
    record_path = out / RECORD
    old = {}
    if record_path.exists():  # an earlier import's record: kept for the images not imported now
        try:
            old = read_json(record_path, "import record", MAX_TABLE_BYTES).get("images", {})
        except (FileProblem, AttributeError) as exc:
            log.warning("%s: replaced (%s)", record_path, getattr(exc, "problem", "not a record"))
        if not isinstance(old, dict):
            old = {}
    record = {
        "source": [str(p) for p in sources],
        "definitions": definitions,
        "images": {**old, **records},
    }
    write_text_atomic(record_path, json.dumps(record, indent=1) + "\n")


def run(args) -> int:
    update, close = progress_bar("importing", "file")
    try:
        labels, records, failures = import_labelme(args, update)
    finally:
        close()
    for problem in failures:
        print(f"failed: {problem}")
    if not labels:
        raise FileProblem(", ".join(map(str, args.inputs)), "no LabelMe file could be imported")
    landmarks = load_landmarks(args.landmarks)
    write_outputs(args.out, labels, records, landmarks, args.inputs)
    present = sum(int(lab.present.sum()) for lab in labels)
    absent = sum(int(lab.absent.sum()) for lab in labels)
    noted = {img: r["notes"] for img, r in records.items() if r["notes"]}
    for img, notes in noted.items():
        for note in notes:
            print(f"note: {img}: {note}")
    print(
        f"{args.out}: {len(labels)} image(s) imported — {present} landmark(s) present, "
        f"{absent} absent; {len(noted)} with notes, {len(failures)} failed"
    )
    if args.overlays:
        print(f"check pictures: {args.overlays}/ (one per image)")
    return 1 if failures else 0
