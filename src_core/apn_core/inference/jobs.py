"""The ``apn predict`` job as a function, shared by the CLI and the napari Batch widget.

Order of work: refuse an output folder that is an input folder or a labelled folder, find
the inputs (excluding the output folder and any folder holding the output marker), take
the output folder's lock (a second command writing it is refused at once), check that it
is writable, load the model, decide per image whether its stored result still holds
(:func:`~apn_core.inference.outputs.check_done`), predict the rest, then write the tables
from every record the folder holds. Nothing is counted as done that was not written.
"""

from __future__ import annotations

import errno
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from apn_core.dataset import find_images
from apn_core.errors import FileProblem
from apn_core.inference.batch import SpacingPolicy
from apn_core.inference.outputs import OUTPUT_MARKER, record_names
from apn_core.io import IMAGE_SUFFIXES, is_image_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputImage:
    """An image to predict and its unique output name (POSIX path, extension kept)."""

    path: Path
    name: str


@dataclass
class PredictSummary:
    """What a predict job did. ``done``: output names predicted now (``redone`` among
    them, with the reason); ``skipped_done``: results kept from an earlier run (same file,
    model and options); ``failed``: (name, reason); ``error``: why the job stopped early
    (e.g. the disk is full); ``written``: the tables written."""

    out: Path
    done: list[str] = field(default_factory=list)
    skipped_done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    not_images: list[str] = field(default_factory=list)
    cancelled: bool = False
    redone: list[tuple[str, str]] = field(default_factory=list)
    spacing_notes: list[tuple[str, str]] = field(default_factory=list)
    by_object: list[tuple[str, str]] = field(default_factory=list)  # (name, "from a ruler …")
    written: list[Path] = field(default_factory=list)
    error: str | None = None
    table_images: int = 0  # images the written tables cover (this and earlier commands)
    paths: dict[str, Path] = field(default_factory=dict)  # output name → input file
    needs_review: list[tuple[str, str]] = field(default_factory=list)  # (name, flagged landmarks)
    dicom: object = None  # with --sr: apn_core.dicom_out.files.DicomReport

    def line(self) -> str:
        redone = f" ({len(self.redone)} redone)" if self.redone else ""
        skipped = f", {len(self.not_images)} non-image file(s) skipped" if self.not_images else ""
        state = " (cancelled)" if self.cancelled else " (stopped)" if self.error else ""
        return (
            f"{len(self.done)} predicted{redone}, {len(self.skipped_done)} already done, "
            f"{len(self.failed)} failed{skipped}{state}; "
            f"{len(self.needs_review)} image(s) need review"
        )

    def details(self, limit: int = 5) -> list[str]:
        """Indented lines: why images were redone and spacing disagreements (grouped by
        reason), then every failure with its reason."""
        lines = (
            grouped("redone", self.redone, limit)
            + grouped("spacing", self.by_object, limit)
            + grouped("spacing", self.spacing_notes, limit)
        )
        review = [f"  needs review: {name}: {what}" for name, what in self.needs_review[:limit]]
        if len(self.needs_review) > limit:
            review.append(
                f"  … and {len(self.needs_review) - limit} more (needs_review in landmarks.csv)"
            )
        return lines + review + [f"  failed: {name}: {error}" for name, error in self.failed]

    def exit_code(self) -> int:
        """0 all done; 1 some images failed; 2 nothing could be done, or the job stopped."""
        if self.error or (self.failed and not self.done and not self.skipped_done):
            return 2
        return 1 if self.failed else 0


def grouped(label: str, pairs: list[tuple[str, str]], limit: int = 5) -> list[str]:
    """``(name, reason)`` pairs → one line per reason, naming up to ``limit`` images."""
    lines = []
    for reason, count in Counter(why for _, why in pairs).items():
        names = [n for n, why in pairs if why == reason]
        more = f" and {count - limit} more" if count > limit else ""
        lines.append(f"  {label} ({reason}): {', '.join(names[:limit])}{more}")
    return lines


def _root_name(path: Path) -> str:
    return path.resolve().name or "root"


def _numbered(name: str, n: int, keep_suffix: bool) -> str:
    """``leg.dcm`` → ``leg~2.dcm`` (file names keep their extension); ``A`` → ``A~2``."""
    p = PurePosixPath(name)
    suffix = "".join(p.suffixes[-1:]) if keep_suffix else ""
    stem = name[: len(name) - len(suffix)] if suffix else name
    return f"{stem}~{n}{suffix}"


def _unique(names: list[str], keep_suffix: list[bool]) -> list[str]:
    """Make names unique, ignoring letter case (a case-insensitive disk would merge them);
    the first keeps its name, later ones are numbered ``~2``, ``~3``..."""
    taken = {n.casefold() for n in names}
    seen: set[str] = set()
    result = []
    for name, keep in zip(names, keep_suffix, strict=True):
        if name.casefold() in seen:
            n = 2
            while (candidate := _numbered(name, n, keep)).casefold() in taken:
                n += 1
            name = candidate
            taken.add(name.casefold())
        seen.add(name.casefold())
        result.append(name)
    return result


class _Excluder:
    """Leave out files in the output folder (when it lies inside the input folder) and in
    folders below the input folder that hold the output marker. A folder the user names
    is always searched itself."""

    def __init__(self, out: Path | None) -> None:
        self.out = out.resolve() if out is not None else None
        self.marked: dict[Path, bool] = {}
        self.roots: dict[Path, Path] = {}

    def __call__(self, root: Path, rel: PurePosixPath) -> bool:
        resolved = self.roots.setdefault(root, root.resolve())
        if (
            self.out is not None
            and self.out.is_relative_to(resolved)
            and (resolved / rel).is_relative_to(self.out)
        ):
            return True
        folder = root
        for part in rel.parts[:-1]:
            folder = folder / part
            if folder not in self.marked:
                self.marked[folder] = (folder / OUTPUT_MARKER).exists()
            if self.marked[folder]:
                return True
        return False


def collect_inputs(
    inputs: list[str | Path], exclude: str | Path | None = None
) -> tuple[list[InputImage], list[str]]:
    """Every image under ``inputs`` with its unique output name; and the non-image files.

    A folder's images are named by their path relative to it; a file by its name. With
    several inputs each name is prefixed by its input's name (``A/case1.dcm``), equal input
    names numbered (``A~2``). Files inside ``exclude`` (the output folder) or inside a
    folder holding the output marker are left out; a file given twice is taken once.
    """
    paths = [Path(item) for item in inputs]
    for path in paths:
        if not path.exists():
            raise FileProblem(path, "no such file or folder")
    several = len(paths) > 1
    roots = _unique([_root_name(p) for p in paths], [not p.is_dir() for p in paths])
    excluded = _Excluder(Path(exclude) if exclude is not None else None)
    found: list[tuple[Path, str, bool]] = []  # path, name, is the name a file name
    skipped: list[str] = []
    for path, root in zip(paths, roots, strict=True):
        if path.is_dir():
            for image in find_images(path):
                rel = PurePosixPath(image.relative_to(path).as_posix())
                if not excluded(path, rel):
                    found.append((image, f"{root}/{rel}" if several else str(rel), True))
            for f in sorted(path.rglob("*")):
                rel = PurePosixPath(f.relative_to(path).as_posix())
                if (
                    f.is_file()
                    and not is_image_file(f)
                    and not excluded(path, rel)
                    and not any(part.startswith(".") for part in rel.parts)
                ):
                    skipped.append(str(f))
        elif is_image_file(path):
            found.append((path, root if several else path.name, True))
        else:
            skipped.append(str(path))
    seen: set[Path] = set()
    unique_found = []
    for path, name, is_file in found:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique_found.append((path, name, is_file))
    names = _unique([n for _, n, _ in unique_found], [f for _, _, f in unique_found])
    images = [InputImage(p, n) for (p, _, _), n in zip(unique_found, names, strict=True)]
    return images, skipped


def _note_review(summary: PredictSummary, name: str, review: dict) -> None:
    """An image to review, with its flagged landmarks and the whole image's reasons (a wrong
    pixel spacing concerns every measurement, not one landmark)."""
    if review.get("needs_review"):
        parts = [", ".join(review.get("flagged") or []), *(review.get("image_reasons") or [])]
        summary.needs_review.append((name, "; ".join(p for p in parts if p)))


def run_predict_job(
    inputs: list[str | Path],
    out: str | Path,
    model: str = "default",
    spacing=None,
    overlays: bool = False,
    batch_size: int = 4,
    workers: int = 1,
    flip_test: bool = True,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    *,
    override_spacing=None,
    redo: bool = False,
    calibration: str | Path | None = None,
    sr: bool = False,
    calibration_object="auto",
    spacing_from: str = "file",
) -> PredictSummary:
    """Predict every image under ``inputs`` into ``out`` (see ``apn predict``).

    ``spacing`` (mm/px) is used for files without their own, without a ``spacing_mm`` in
    their folder's ``landmarks.csv`` and without a calibration object on the film
    (``calibration_object``: ``auto``, ``ruler``, ``ball:25mm``, ``none`` or an
    :class:`~apn_core.calibration_object.ObjectChoice`; ``spacing_from="object"`` prefers
    the object's to a file's own); ``override_spacing`` replaces every file's. ``redo``: predict every image again, replacing stored results.
    ``calibration``: a calibration file instead of the one beside the model's weights.
    ``sr``: also an SR and a presentation state per DICOM image (:mod:`apn_core.dicom_out`);
    other inputs fail, before anything is predicted.
    Raises :class:`FileProblem` when nothing can start (no images, an output folder that
    is an input or a labelled folder, not writable or being written by another command,
    a model unusable); per-image problems go to the summary's ``failed``. The tables
    cover every result in ``out``, this command's and earlier ones'.
    """
    from apn_core.inference import Predictor
    from apn_core.inference.batch import predict_files
    from apn_core.inference.model_store import resolve, sha256
    from apn_core.inference.outputs import (
        ResultSignature,
        check_done,
        check_output_folder,
        make_record,
        output_lock,
        prepare_output_folder,
        read_record,
        save_result,
        write_tables,
    )
    from apn_core.inference.overlay import OVERLAY_HEIGHT
    from apn_core.inference.threads import inference_threads, torch_threads

    out = Path(out)
    check_output_folder(out, inputs)
    images, not_images = collect_inputs(inputs, exclude=out)
    if not images:
        where = ", ".join(str(i) for i in inputs)
        raise FileProblem(
            where,
            f"no image files found ({', '.join(sorted(IMAGE_SUFFIXES))}; hidden files, the "
            f"output folder and folders holding {OUTPUT_MARKER} are not searched)",
        )
    from apn_core.calibration_object import ObjectChoice, parse_spacing_from

    objects = (
        calibration_object
        if isinstance(calibration_object, ObjectChoice)
        else ObjectChoice.parse(str(calibration_object))
    )
    refused: list[tuple[str, str]] = []
    if sr:
        from apn_core.dicom_out.files import split_sources

        images, refused = split_sources(images)
        if not images:
            return PredictSummary(out=out, not_images=not_images, failed=refused)
    with output_lock(out):  # held until the tables are written
        prepare_output_folder(out, "apn predict")
        source = resolve(model)
        predictor = Predictor.load(
            model, device=device, flip_test=flip_test, calibration=calibration
        )
        policy = SpacingPolicy(
            fallback=_pair(spacing),
            override=_pair(override_spacing),
            labelled=labelled_spacings(inputs, predictor.config.landmarks),
            objects=objects,
            spacing_from=parse_spacing_from(spacing_from),
        )
        calibration_file = predictor.calibration_file
        signature = ResultSignature(
            source.name,
            sha256(source.weights),
            flip_test,
            policy,
            sha256(calibration_file) if calibration_file else None,
        )
        summary = PredictSummary(out=out, not_images=not_images, failed=refused)
        summary.paths = {image.name: image.path for image in images}

        todo: list[InputImage] = []
        why_redo: dict[str, str] = {}
        for image in images:
            state, why = check_done(out, image.name, image.path, signature, overlays)
            if redo and state != "new":
                state, why = "redo", "--redo"
            if state == "done":
                summary.skipped_done.append(image.name)
                _note_review(summary, image.name, read_record(out, image.name).get("review") or {})
            elif state == "conflict":
                summary.failed.append((image.name, why))
            else:
                todo.append(image)
                if state == "redo":
                    why_redo[image.name] = why
                    log.debug("%s: predicting again: %s", image.name, why)

        results = predict_files(
            predictor,
            [i.path for i in todo],
            policy,
            batch_size,
            workers,
            OVERLAY_HEIGHT if overlays else None,
        )
        try:
            # threads = the cores idle now (apn_core.inference.threads): with torch's default
            # pool a core busy elsewhere stalls every operation of the network
            with torch_threads(inference_threads()):
                for n, (image, res) in enumerate(zip(todo, results, strict=True), start=1):
                    error = res.error
                    if error is None and res.prediction.spacing is None:
                        error = _no_spacing(res.calibration)
                    if error is not None:
                        summary.failed.append(
                            (image.name, error.removeprefix(str(image.path)).lstrip(": "))
                        )
                    else:
                        try:
                            record = make_record(
                                image.name,
                                image.path,
                                res.prediction,
                                signature,
                                res.spacing_from,
                                overlays,
                                res.calibration,
                            )
                            save_result(
                                out,
                                image.name,
                                res.prediction,
                                predictor.config.landmarks,
                                record,
                                res.overlay_base,
                            )
                        except OSError as exc:
                            if exc.errno != errno.ENAMETOOLONG:  # the disk or folder: stop here
                                summary.error = (
                                    f"{out}: cannot write the results of {image.name} ({exc.strerror or exc}); "
                                    f"stopped after {len(summary.done)} of {len(todo)} image(s) to predict. What "
                                    "was written is complete: fix the output folder (e.g. free disk space) and "
                                    "run the same command again to continue"
                                )
                                break
                            summary.failed.append((image.name, _name_too_long(exc)))
                        except (ValueError, OverflowError) as exc:  # one odd result, not the batch
                            log.debug("%s: cannot record its result", image.name, exc_info=True)
                            summary.failed.append((image.name, f"cannot record the result ({exc})"))
                        else:
                            summary.done.append(image.name)
                            _note_review(summary, image.name, res.prediction.review)
                            if image.name in why_redo:
                                summary.redone.append((image.name, why_redo[image.name]))
                            if res.spacing_note:
                                summary.spacing_notes.append((image.name, res.spacing_note))
                            if res.spacing_from == "object" and not res.spacing_note:
                                where = f"from the {res.prediction.spacing_source} on the film"
                                summary.by_object.append((image.name, where))
                    if progress:
                        progress(n, len(todo))
                    if cancelled is not None and cancelled():
                        summary.cancelled = True
                        break
            _dicom_outputs(summary, out, sr, images)
        finally:
            try:
                summary.written = write_tables(out)
                summary.table_images = len(record_names(out)) if summary.written else 0
            except OSError as exc:
                summary.error = summary.error or (
                    f"{out}: cannot write the tables ({exc.strerror or exc}); the per-image results "
                    "are complete: run the same command again to write them"
                )
        return summary


def labelled_spacings(inputs: list[str | Path], landmarks) -> dict[str, tuple[float, float]]:
    """``{resolved image path: spacing}`` from the ``spacing_mm`` column of the
    ``landmarks.csv`` in each input folder (for an input file: beside it). Rows that do not
    parse are left out; a table that cannot be read is skipped with a warning."""
    from apn_core.annotations import read_landmarks_csv
    from apn_core.errors import AnnotationError
    from apn_core.problems import Report

    found: dict[str, tuple[float, float]] = {}
    for item in inputs:
        path = Path(item)
        folder = path if path.is_dir() else path.parent
        table = folder / "landmarks.csv"
        if not table.is_file():
            continue
        try:
            labels = read_landmarks_csv(table, landmarks, Report())
        except AnnotationError as exc:
            log.warning("spacing_mm not used: %s", exc)
            continue
        for rel, lab in labels.items():
            if lab.spacing is not None and (path.is_dir() or rel == path.name):
                found.setdefault(str((folder / rel).resolve()), lab.spacing)
    return found


def _no_spacing(calibration: dict | None) -> str:
    """Why an image without a spacing failed: no calibration object was found on the film,
    or none was looked for (``--calibration-object none``: the record's note says so)."""
    from apn_core.calibration_object.resolve import NOT_FOUND

    note = (calibration or {}).get("note") or NOT_FOUND
    why = f"{NOT_FOUND} on the film" if note == NOT_FOUND else f"a calibration object {note}"
    return f"no pixel spacing in the file and {why}; pass --spacing MM (results are in mm)"


def _pair(spacing) -> tuple[float, float] | None:
    if spacing is None:
        return None
    return SpacingPolicy.of(spacing).fallback


def _dicom_outputs(summary: PredictSummary, out: Path, sr: bool, images) -> None:
    """With ``sr``: the SR + presentation state of every finished image (kept where they
    already hold this result); without: remove those of results predicted again now."""
    from apn_core.dicom_out import files

    if not sr:
        files.remove_stale(out, summary.done)
        return
    paths = {image.name: image.path for image in images}
    done = set(summary.done) | set(summary.skipped_done)
    finished = [i.name for i in images if i.name in done]
    try:
        summary.dicom = files.write_for_job(out, finished, paths)
    except OSError as exc:
        summary.error = summary.error or (
            f"{out}: cannot write the DICOM outputs ({exc.strerror or exc}); the landmarks "
            "are complete: run the same command again to write them"
        )
        return
    summary.failed.extend(summary.dicom.failed)


def _name_too_long(exc: OSError) -> str:
    return (
        f"an output file name would be longer than the file system allows "
        f"({exc.strerror or exc}); rename the image (shorter name) and run again"
    )
