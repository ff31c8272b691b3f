"""What ``apn predict`` writes, atomically, and when a re-run may count an image as done.

Each input image has a unique **output name**: its path relative to the input folder
(or its file name), extension kept; with several inputs, prefixed by the input's name
(``A/case1.dcm``, ``B/case1.dcm``; equal input names get ``~2``, ``~3``). Outputs mirror it:

    OUT/.apn-output                  marker: an apn output folder, never scanned for inputs
    OUT/.apn-lock                    held while a command writes (apn_core.utils.locks)
    OUT/landmarks.csv                image,landmark,x,y,x_mm,y_mm,confidence,present,needs_review,review_reason,spacing_mm,spacing_source
    OUT/measurements.csv             image,side,hka_deg,mad_mm,length_mm,femur_mm,tibia_mm,lld_mm,note
    OUT/<name>.mrk.json              Slicer markups per image (schema v1.0.3)
    OUT/overlays/<name>.png          with --overlays
    OUT/predictions/<name>.json      one record per image: the re-run state

A record is written last, after the image's other files, so a crash or a full disk never
leaves a record whose outputs are missing. It holds the input file's identity (resolved
path, size, modification time), the model (name, SHA-256 of its weights and calibration) and the
options that change results (flip averaging, spacing); a re-run skips an image only when
all of these match and its outputs exist (see :func:`check_done`).

The tables are rebuilt from **every** record in ``OUT/predictions/`` (:func:`write_tables`),
so a second command into the same folder adds its images and keeps the first's; two
commands never write one folder at once (the second is refused: :func:`output_lock`).
``landmarks.csv`` carries ``spacing_mm``, so it reopens in millimetres (napari, ``apn
check``). apn predict never writes into a labelled folder, where its ``landmarks.csv``
would replace the hand labels (:func:`check_output_folder`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from apn_core.annotations import ImageLabels, write_markups
from apn_core.dataset import OUTPUT_MARKER
from apn_core.errors import FileProblem, escape_controls
from apn_core.inference.batch import SpacingPolicy
from apn_core.inference.predictor import Prediction
from apn_core.landmarks import LandmarkSet
from apn_core.spacing import format_spacing
from apn_core.utils.atomic import write_text_atomic
from apn_core.utils.csv_cells import csv_text
from apn_core.utils.files import open_regular, read_text
from apn_core.utils.json_safe import json_safe
from apn_core.utils.locks import FolderBusyError, folder_lock

MARKER_TEXT = (
    "This folder was written by napari-apn ({command}). Folder discovery (apn predict, apn check, "
    "apn train) skips folders holding this file, so outputs are never read as inputs.\n"
)
RECORD_FORMAT = "napari-apn prediction"
RECORD_VERSION = 3  # 3: review flags, measurement notes
LANDMARKS_CSV, MEASUREMENTS_CSV = "landmarks.csv", "measurements.csv"
LANDMARK_COLUMNS = (
    "image",
    "landmark",
    "x",
    "y",
    "x_mm",
    "y_mm",
    "confidence",
    "present",
    "needs_review",
    "review_reason",
    "spacing_mm",
    "spacing_source",
)
RECORD_ROW_FIELDS = LANDMARK_COLUMNS[1:-2]  # what a record's row holds (spacing: per image)
OLD_OPTIONS = {"calibration_object": "none", "spacing_from": "file"}  # records before them
PREDICTION_TABLE_COLUMNS = {"x_mm", "confidence", "needs_review"}  # how its table is known
MEASUREMENT_COLUMNS = (
    "image",
    "side",
    "hka_deg",
    "mad_mm",
    "length_mm",
    "femur_mm",
    "tibia_mm",
    "lld_mm",
    "note",
)


def check_output_folder(out: str | Path, inputs: Sequence[str | Path] = ()) -> Path:
    """Refuse, with :class:`FileProblem`, an output folder where outputs would mix with a
    user's data: a path that is a file, one of the input folders, or a folder holding a
    ``landmarks.csv`` that apn predict did not write (a labelled folder: its hand labels
    would be replaced by predictions). Nothing is created."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileProblem(out, "exists and is not a folder; choose another output folder")
    for item in inputs:
        if Path(item).is_dir() and Path(item).resolve() == out.resolve():
            raise FileProblem(
                out,
                "is the input folder itself: outputs would mix with the images (and mark the "
                "folder as an output folder); write them to another folder, e.g. a subfolder",
            )
    table = out / LANDMARKS_CSV
    if table.exists() and not is_prediction_table(table):
        raise FileProblem(
            out,
            f"holds a {LANDMARKS_CSV} that apn predict did not write (a labelled folder's hand "
            "labels?): apn predict never writes into a labelled folder, where its "
            f"{LANDMARKS_CSV} would replace them; choose another output folder, e.g. "
            f"--out {out.parent / (out.name + '-predicted')}",
        )
    return out


def is_prediction_table(table: Path) -> bool:
    """Whether ``table`` is a ``landmarks.csv`` written by apn predict: its folder holds
    the output marker and its header has the prediction columns (``x_mm``,
    ``confidence``, ``needs_review``). Unreadable: False."""
    if not (table.parent / OUTPUT_MARKER).is_file():
        return False
    try:  # a regular file only: a FIFO named landmarks.csv would block the open forever
        with open_regular(table, LANDMARKS_CSV) as fh:
            line = fh.readline(1 << 16).decode("utf-8-sig")
        header = next(csv.reader(io.StringIO(line)), [])
    except (FileProblem, OSError, UnicodeDecodeError, csv.Error):
        return False
    return set(header) >= PREDICTION_TABLE_COLUMNS


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold the output folder's lock (creating the folder) while a command writes it;
    another command already writing it is refused at once with :class:`FileProblem`
    naming its process, as is a folder that cannot be created."""
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(folder_lock(out, "output folder"))
    except FolderBusyError as exc:
        raise FileProblem(out, str(exc).removeprefix(f"{out}: ")) from None
    except OSError as exc:
        raise FileProblem(out, f"cannot write to the output folder ({_reason(exc)})") from None
    with stack:
        yield


def prepare_output_folder(out: str | Path, command: str = "apn predict") -> Path:
    """Create ``out`` and write its marker — which is also the check that it is writable,
    done before any network runs. A path that is a file, a read-only folder or a full disk
    raises :class:`FileProblem` naming ``out``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileProblem(out, "exists and is not a folder; choose another output folder")
    for sub in SUBFOLDERS:  # where results go: a file there is no full disk
        if (out / sub).exists() and not (out / sub).is_dir():
            raise FileProblem(
                out / sub,
                f"exists and is not a folder; {command} writes its {SUBFOLDERS[sub]} there — "
                "move or rename it, or choose another output folder",
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / OUTPUT_MARKER, MARKER_TEXT.format(command=command))
    except OSError as exc:
        raise FileProblem(out, f"cannot write to the output folder ({_reason(exc)})") from None
    return out


def _printable(value) -> str:
    """Text from a record file (untrusted) with control characters escaped."""
    return escape_controls(str(value))


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


SUBFOLDERS = {"predictions": "per-image records", "overlays": "overlay pictures"}


def markups_path(out: Path, name: str) -> Path:
    return Path(out) / f"{name}.mrk.json"


def overlay_path(out: Path, name: str) -> Path:
    return Path(out) / "overlays" / f"{name}.png"


def record_path(out: Path, name: str) -> Path:
    return Path(out) / "predictions" / f"{name}.json"


@dataclass(frozen=True)
class ResultSignature:
    """What must match for a stored result to count as done: the model (name, SHA-256 of
    its weights and of its calibration, which decides confidences and review flags) and the
    options that change results (flip averaging, spacing)."""

    model: str
    weights_sha256: str
    flip_test: bool
    spacing: SpacingPolicy = field(default_factory=SpacingPolicy)
    calibration_sha256: str | None = None

    def as_dict(self) -> dict:
        return {
            "model": {
                "name": self.model,
                "weights_sha256": self.weights_sha256,
                "calibration_sha256": self.calibration_sha256,
            },
            "options": {"flip_test": self.flip_test, **self.spacing.as_dict()},
        }

    def mismatch(self, record: dict, path: Path | None = None) -> str | None:
        """Why ``record`` was made differently, or None when it matches; ``path``: the
        input file (for the spacing its folder's landmarks.csv gives it)."""
        model, options = record["model"], record["options"]
        if model.get("weights_sha256") != self.weights_sha256:
            return f"made by another model ({_printable(model.get('name'))})"
        if model.get("calibration_sha256") != self.calibration_sha256:
            return "made with another calibration"
        if options.get("flip_test") != self.flip_test:
            return "made with other options (flip averaging)"
        mine = self.spacing.as_dict()
        if options.get("override_spacing") != mine["override_spacing"]:
            return "made with another --override-spacing"
        labelled = self.spacing.labelled_spacing(path) if path is not None else None
        if record["spacing_from"] in ("fallback", "none") and labelled is not None:
            return "its folder's landmarks.csv now gives its spacing_mm"
        if record["spacing_from"] == "labels" and (
            labelled is None or list(labelled) != record.get("spacing")
        ):
            return "made with another spacing_mm in its folder's landmarks.csv"
        if (
            record["spacing_from"] == "fallback"
            and options.get("fallback_spacing") != mine["fallback_spacing"]
        ):
            return "made with another --spacing"
        if record["spacing_from"] != "override":
            for key, option in (
                ("calibration_object", "--calibration-object"),
                ("spacing_from", "--spacing-from"),
            ):
                if options.get(key, OLD_OPTIONS[key]) != mine[key]:
                    return f"made with another {option}"
        return None


def file_identity(path: Path) -> dict:
    """The input file as a re-run recognises it: resolved path, size and modification time."""
    stat = path.stat()
    return {"source": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def make_record(
    name: str,
    path: Path,
    prediction: Prediction,
    signature: ResultSignature,
    spacing_from: str,
    overlay: bool,
    calibration: dict | None = None,
) -> dict:
    """The per-image record (see the module docstring); ``calibration``: what the
    calibration object gave (``ObjectSpacing.as_dict``), None where it was not looked for."""
    outputs = [markups_path(Path(), name).as_posix()]
    if overlay:
        outputs.append(overlay_path(Path(), name).as_posix())
    return json_safe(
        {
            "format": RECORD_FORMAT,
            "version": RECORD_VERSION,
            "image": name,
            **file_identity(path),
            **signature.as_dict(),
            "spacing": list(prediction.spacing) if prediction.spacing else None,
            "spacing_source": prediction.spacing_source,
            "spacing_from": spacing_from,
            "calibration": calibration,
            "rows": prediction.as_rows(),
            "alignment": prediction.alignment,
            "alignment_notes": prediction.alignment_notes,
            "review": prediction.review,
            "outputs": outputs,
        }
    )


def save_result(
    out: Path,
    name: str,
    prediction: Prediction,
    landmarks: LandmarkSet,
    record: dict,
    overlay_base: np.ndarray | None = None,
) -> None:
    """Write one image's markups, overlay (when given) and, last, its record."""
    labels = ImageLabels(name, prediction.xy, np.ones(len(prediction.xy), bool))
    write_markups(
        markups_path(out, name),
        labels,
        landmarks,
        prediction.spacing,
        prediction.confidence,
        name=Path(name).name,
        notes=[f"needs review: {r}" if r else "" for r in prediction.review_reason] or None,
        spacing_source=prediction.spacing_source,
    )
    if overlay_base is not None:
        from apn_core.inference.overlay import save_overlay

        save_overlay(overlay_path(out, name), overlay_base, prediction)
    write_text_atomic(record_path(out, name), json.dumps(record, indent=1))


class DamagedRecord(ValueError):
    """A record that cannot be used (not JSON, wrong shape, another version)."""


def read_record(out: Path, name: str) -> dict | None:
    """The record of ``name``, None when there is none; :class:`DamagedRecord` when unusable."""
    path = record_path(out, name)
    if not os.path.lexists(path):
        return None
    try:  # a regular file of bounded size (a FIFO put there must not hang a re-run)
        text = read_text(path, "record")
    except FileProblem as exc:
        raise DamagedRecord(f"unreadable ({exc.problem})") from None
    try:
        record = json.loads(text)
        _validate(record, name)
    except DamagedRecord:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise DamagedRecord(
            f"not a valid record ({type(exc).__name__}: {str(exc)[:120]})"
        ) from None
    return record


def _validate(record, name: str) -> None:
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise DamagedRecord("not a napari-apn prediction record")
    if record.get("version") != RECORD_VERSION:
        raise DamagedRecord(f"a record of another version ({record.get('version')!r})")
    if record.get("image") != name:
        raise DamagedRecord(f"it names another image ({record.get('image')!r})")
    kinds = {
        "source": str,
        "size": int,
        "mtime_ns": int,
        "model": dict,
        "options": dict,
        "spacing_from": str,
        "rows": list,
        "alignment": dict,
    }
    for key, kind in kinds.items():
        if not isinstance(record.get(key), kind):
            raise DamagedRecord(f"field {key!r} is missing or not a {kind.__name__}")
    for row in record["rows"]:
        if not isinstance(row, dict) or not set(RECORD_ROW_FIELDS) <= set(row):
            raise DamagedRecord("a landmark row is malformed")
        for key in ("x", "y", "x_mm", "y_mm", "confidence"):
            if row[key] is not None and not isinstance(row[key], int | float):
                raise DamagedRecord(f"landmark value {key!r} is not a number")


def check_done(
    out: Path, name: str, path: Path, signature: ResultSignature, overlays: bool
) -> tuple[str, str | None]:
    """``("new", None)``, ``("done", None)``, ``("redo", why)`` or ``("conflict", why)``
    (the name's result belongs to another file: never replaced silently)."""
    try:
        record = read_record(out, name)
    except DamagedRecord as exc:
        return "redo", f"its record was damaged: {exc}"
    if record is None:
        return "new", None
    identity = file_identity(path)
    if record["source"] != identity["source"]:
        return "conflict", (
            f"the output folder already holds the result of another file with this output name "
            f"({_printable(record['source'])}); use another --out, or --redo to replace it"
        )
    if (record["size"], record["mtime_ns"]) != (identity["size"], identity["mtime_ns"]):
        return "redo", "the image file changed"
    why = signature.mismatch(record, path)
    if why:
        return "redo", why
    if not markups_path(out, name).is_file():
        return "redo", "its .mrk.json was missing"
    if overlays and not overlay_path(out, name).is_file():
        return "redo", "its overlay was missing"
    return "done", None


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, bool):
        return str(int(v))
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _leg_note(rows: list[dict], side: str, measurement: dict, lld, notes: dict) -> str:
    """Why some of a leg's measurements (or the leg-length discrepancy on its row) are
    empty: flagged landmarks (``notes``: the Prediction's ``alignment_notes``,
    ``"right.hka_deg"`` / ``"lld_mm"`` → reason), else absent ones."""

    def finite(v) -> bool:
        return v is not None and math.isfinite(v)

    leg_ok = all(finite(measurement.get(c)) for c in MEASUREMENT_COLUMNS[2:7])
    if leg_ok and finite(lld):
        return ""
    reasons = [
        r
        for key, r in notes.items()
        if (not leg_ok and key.startswith(f"{side}.")) or (key == "lld_mm" and not finite(lld))
    ]
    if reasons:
        return "; ".join(dict.fromkeys(part for r in reasons for part in r.split(", ")))
    sides = ("_right", "_left") if not finite(lld) else (f"_{side}",)
    absent = [r["landmark"] for r in rows if r["landmark"].endswith(sides) and not r["present"]]
    return f"{', '.join(absent)} absent" if absent else "not computable"


def record_names(out: Path) -> list[str]:
    """The output names of every record in ``OUT/predictions/``, sorted (temporary files
    of an interrupted write, named ``.<name>.<random>.tmp.json``, are not records)."""
    root = Path(out) / "predictions"
    if not root.is_dir():
        return []
    names = []
    for path in root.rglob("*.json"):
        rel = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            names.append(rel.as_posix().removesuffix(".json"))
    return sorted(names)


def write_tables(out: Path) -> list[Path]:
    """(Re)write ``landmarks.csv`` and ``measurements.csv`` from every usable record in
    ``OUT/predictions/`` (sorted by output name; damaged ones left out): the tables cover
    every result the folder holds, whichever command made it. Returns the files written
    (none when the folder holds no usable record)."""
    records = []
    for name in record_names(out):
        try:
            record = read_record(out, name)
        except DamagedRecord:
            record = None
        if record is not None:
            records.append(record)
    if not records:
        return []
    landmark_rows: list[list] = [list(LANDMARK_COLUMNS)]
    measurement_rows: list[list] = [list(MEASUREMENT_COLUMNS)]
    for rec in records:
        spacing = _spacing_cell(rec.get("spacing"))
        source = _printable(rec.get("spacing_source") or "")
        for row in rec["rows"]:
            landmark_rows.append(
                [rec["image"], *(_fmt(row[c]) for c in RECORD_ROW_FIELDS), spacing, source]
            )
        a = rec["alignment"]
        for side in ("right", "left"):
            if isinstance(a.get(side), dict):
                m = a[side]
                values = [_fmt(m.get(c)) for c in MEASUREMENT_COLUMNS[2:7]]
                notes = rec.get("alignment_notes") or {}
                note = _leg_note(rec["rows"], side, m, a.get("lld_mm"), notes)
                measurement_rows.append([rec["image"], side, *values, _fmt(a.get("lld_mm")), note])
    write_text_atomic(Path(out) / LANDMARKS_CSV, csv_text(landmark_rows))
    write_text_atomic(Path(out) / MEASUREMENTS_CSV, csv_text(measurement_rows))
    return [Path(out) / LANDMARKS_CSV, Path(out) / MEASUREMENTS_CSV]


def _spacing_cell(spacing) -> str:
    """A record's ``[row, col]`` spacing as ``landmarks.csv`` writes it; '' without one."""
    if (
        isinstance(spacing, list)
        and len(spacing) == 2
        and all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in spacing)
    ):
        return format_spacing((float(spacing[0]), float(spacing[1])))
    return ""
