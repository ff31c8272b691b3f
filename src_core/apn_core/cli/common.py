"""Helpers shared by subcommands: validated option types, spacing and landmark-set options,
progress bars.

Every number a user types is checked by argparse (``type=``), so a bad value is refused
before anything runs, with exit code 2 and one line naming the option and the problem.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from apn_core.errors import FileProblem
from apn_core.landmarks import DEFAULT_LANDMARKS, LandmarkSet


def spacing_arg(text: str) -> tuple[float, float]:
    """``0.143`` or ``0.15,0.14`` (row,col) mm/px → a positive pair (:mod:`apn_core.spacing`)."""
    from apn_core.spacing import parse_spacing

    try:
        spacing = parse_spacing(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if spacing is None:
        raise argparse.ArgumentTypeError("empty spacing; give mm per pixel, e.g. 0.143")
    return spacing


def _number(text: str, kind: type, what: str):
    """Parse ``text`` as ``kind`` (int or float), rejecting NaN, infinities and ``1_000``."""
    cleaned = text.strip()
    try:
        if "_" in cleaned:
            raise ValueError
        value = kind(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    value = _number(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer ≥ 0."""
    value = _number(text, int, "a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 0 or more")
    return value


def any_int(text: str) -> int:
    """argparse type: any integer (seeds, indices), written plainly."""
    return _number(text, int, "a whole number")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _number(text, float, "a number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be greater than 0")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number ≥ 0."""
    value = _number(text, float, "a number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 0 or more")
    return value


def fraction(text: str) -> float:
    """argparse type: a number within 0–1 (a share or probability)."""
    value = _number(text, float, "a number")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be within 0 and 1")
    return value


def thresholds_arg(text: str) -> tuple[float, ...]:
    """argparse type: ``10,20`` → distinct positive finite millimetre thresholds, ascending."""
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"{text!r}: give one or more distances in mm, e.g. 10,20")
    values = []
    for part in parts:
        try:
            values.append(positive_float(part))
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{text!r}: {exc} (thresholds are mm > 0)") from None
    return tuple(sorted(set(values)))


def device_arg(text: str) -> str:
    """argparse type: ``cpu``, ``cuda`` or ``cuda:N``, refused when no such GPU is available."""
    value = text.strip().lower()
    if value == "cpu":
        return value
    index = value.removeprefix("cuda").removeprefix(":")
    if not value.startswith("cuda") or (index and not index.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r}: use cpu, cuda or cuda:N")
    import torch  # only when a GPU is asked for: keeps `apn --help` fast

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: no CUDA GPU is available on this machine")
    if index and int(index) >= count:
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has {count} CUDA GPU(s)")
    return value


SPACING_HELP = (
    "pixel spacing in mm/px (one number, or ROW,COL) for images whose file carries none "
    "(a file's own spacing is kept; a disagreement of more than 1 %% is reported)"
)


def add_spacing_option(parser: argparse.ArgumentParser, what: str = "") -> None:
    """``--spacing MM``: a fallback for files without a spacing, never a replacement."""
    parser.add_argument(
        "--spacing",
        type=spacing_arg,
        metavar="MM",
        help=SPACING_HELP + (f"; {what}" if what else ""),
    )


def add_override_spacing_option(parser: argparse.ArgumentParser) -> None:
    """``--override-spacing MM``: replace every file's spacing (a known calibration)."""
    parser.add_argument(
        "--override-spacing",
        type=spacing_arg,
        metavar="MM",
        help="pixel spacing in mm/px that REPLACES every file's own (e.g. a calibration "
        "marker's); results are in mm, so use it only when you know the file's tags are wrong",
    )


def object_choice_arg(text: str):
    """argparse type: ``auto``, ``ruler``, ``ball:25mm`` or ``none``."""
    from apn_core.calibration_object import ObjectChoice

    try:
        return ObjectChoice.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def spacing_from_arg(text: str) -> str:
    """argparse type: ``dicom`` (or ``file``) or ``object``."""
    from apn_core.calibration_object import parse_spacing_from

    try:
        return parse_spacing_from(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_calibration_object_options(parser: argparse.ArgumentParser) -> None:
    """``--calibration-object`` and ``--spacing-from`` (see README "Radiographs and pixel
    spacing"): a ruler or ball on the film gives the spacing where the file has none."""
    parser.add_argument(
        "--calibration-object",
        type=object_choice_arg,
        default="auto",
        metavar="WHAT",
        help="calibration object on the film that gives the pixel spacing at the object: "
        "auto (a ruler when one is found; default), ruler, ball:DIAMETER (e.g. ball:25mm) or none",
    )
    parser.add_argument(
        "--spacing-from",
        type=spacing_from_arg,
        default="file",
        metavar="dicom|object",
        help="when the file has a spacing and the object gives one too: dicom (the file's, "
        "default; both are reported with the magnification they imply) or object",
    )


def add_landmarks_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--landmarks",
        type=Path,
        metavar="JSON",
        help='landmark set file {"names": [...], "mirror_pairs": [[a, b], ...]} '
        "(default: the six lower-limb landmarks)",
    )


def load_landmarks(path: Path | None) -> LandmarkSet:
    if path is None:
        return DEFAULT_LANDMARKS
    from apn_core.utils.files import read_json

    try:  # a regular file, bounded size and depth
        return LandmarkSet.from_dict(read_json(path, "landmark set"))
    except FileProblem as exc:
        raise FileProblem(path, f"not a landmark set file ({exc.problem})") from None
    except ValueError as exc:
        raise FileProblem(path, f"not a landmark set file ({exc})") from None


def progress_bar(desc: str, unit: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A ``(done, total)`` callback drawing a tqdm bar on stderr (hidden when not a terminal)."""
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit=unit, disable=None, leave=False)
        bar.update(done - bar.n)

    def close() -> None:
        if bar is not None:
            bar.close()

    return update, close


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Options of commands that run a model: batch size and test-time flip averaging."""
    parser.add_argument(
        "--batch-size", type=positive_int, default=4, metavar="N", help="images per network batch"
    )
    parser.add_argument(
        "--no-flip",
        action="store_true",
        help="skip test-time flip averaging (faster, less accurate)",
    )
