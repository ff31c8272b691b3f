"""Saving into ``landmarks.csv``: the one function every writer calls.

A labelled folder's ``landmarks.csv`` holds the most expensive thing in a project, hand
labels, and people also edit it by hand or in spreadsheets: they add columns (``note``,
``reader``), rows for landmarks of another set (``patella_right``), CRLF line ends, a BOM.
Every path that saves into one (the napari writer, Save corrected points, Annotate,
``apn import``) calls :func:`update_landmarks_csv`, which changes only what its caller
states and keeps every other byte:

- Per image and landmark the caller states one of: a position ``(x, y)`` (*present*),
  :data:`ABSENT` (annotated as not in the image: empty ``x,y``), :data:`NOT_ANNOTATED`
  (its row is removed: a deleted point) or :data:`UNCHANGED` (every landmark not named).
- A row of a stated landmark keeps its place, its image cell as written (``./a.png``)
  and every other cell (extra columns); only its ``x``, ``y`` (and ``spacing_mm``,
  ``occluded`` when stated) cells are rewritten, and only when their value changes — a
  landmark saved where it already was keeps its row byte for byte. Later duplicate rows
  of a stated landmark (``apn check`` reports them) are removed: the statement replaces
  them all.
- New rows (a landmark that had none) follow the image's last row, or go at the end, in
  the landmark set's order, then in the order given.
- Rows of other images, of unknown landmarks, blank lines, rows that do not parse, the
  header's column order, quoting, the line end (the header's), a UTF-8 BOM and a missing
  final line end are kept byte for byte.
- Columns the edit needs (``spacing_mm``, ``occluded``) are appended to the header;
  older rows are left short by those cells, which read as empty.
- ``spacing_mm`` belongs to an image: a stated spacing is written on every row of that
  image (unknown landmarks' rows included); ``None`` clears it.
- Cells written are neutralised against spreadsheet formulas
  (:mod:`apn_core.utils.csv_cells`); the file is replaced atomically, or created — and not
  touched at all when nothing changes.
"""

from __future__ import annotations

import csv
import enum
import io
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from apn_core.annotations.csv_records import line_end, split_cells, split_records
from apn_core.annotations.files import read_annotation_text
from apn_core.annotations.labels import ImageLabels
from apn_core.annotations.landmarks_csv import BOOLEAN_WORDS, REQUIRED_COLUMNS
from apn_core.annotations.paths import normalise_image_path
from apn_core.errors import AnnotationError
from apn_core.landmarks import LandmarkSet
from apn_core.spacing import format_spacing, parse_decimal, parse_spacing
from apn_core.utils.atomic import write_bytes_atomic
from apn_core.utils.csv_cells import csv_line, quote, restore


class Mark(enum.Enum):
    """A landmark's state other than a position (see the module docstring)."""

    ABSENT = "absent"
    NOT_ANNOTATED = "not annotated"
    UNCHANGED = "unchanged"

    def __repr__(self) -> str:
        return self.name


ABSENT, NOT_ANNOTATED, UNCHANGED = Mark.ABSENT, Mark.NOT_ANNOTATED, Mark.UNCHANGED
Point = tuple[float, float] | Mark


@dataclass(frozen=True)
class ImageEdit:
    """What to save for one image.

    image: its path relative to the labelled folder (normalised as when reading:
        ``./a.png`` is ``a.png``; absolute paths and ``..`` are refused).
    points: ``{landmark: (x, y) | ABSENT | NOT_ANNOTATED | UNCHANGED}``; ``x`` = column,
        ``y`` = row, pixels of the stored image. A landmark not named is unchanged; a name
        outside the landmark set may be given too.
    spacing: ``(row_mm, col_mm)`` for all the image's rows; ``None`` clears it;
        :data:`UNCHANGED` (the default) keeps the cells.
    occluded: ``{landmark: flag}``; a landmark not named keeps its cell (a new row: 0).
    """

    image: str
    points: Mapping[str, Point] = field(default_factory=dict)
    spacing: tuple[float, float] | Mark | None = UNCHANGED
    occluded: Mapping[str, bool] = field(default_factory=dict)

    @classmethod
    def from_labels(
        cls,
        labels: ImageLabels,
        landmarks: LandmarkSet,
        *,
        image: str | None = None,
        unannotated: Mark = NOT_ANNOTATED,
    ) -> ImageEdit:
        """Every landmark of ``landmarks`` as ``labels`` has it: present → its position,
        absent → :data:`ABSENT`, not annotated → ``unannotated`` (:data:`NOT_ANNOTATED`:
        its row is removed; :data:`UNCHANGED`: the file's row, if any, stays). The spacing
        is stated when ``labels`` carry one (else unchanged); occlusion flags that are set
        are stated, never cleared implicitly. ``image`` overrides ``labels.image``."""
        points: dict[str, Point] = {}
        for i, name in enumerate(landmarks.names):
            if labels.present[i]:
                points[name] = (float(labels.xy[i, 0]), float(labels.xy[i, 1]))
            else:
                points[name] = ABSENT if labels.annotated[i] else unannotated
        occluded = {
            name: True
            for i, name in enumerate(landmarks.names)
            if labels.annotated[i] and labels.occluded[i]
        }
        spacing = labels.spacing if labels.spacing is not None else UNCHANGED
        return cls(image or labels.image, points, spacing, occluded)


def update_landmarks_csv(
    path: str | Path,
    edits: ImageEdit | Iterable[ImageEdit],
    landmarks: LandmarkSet | None = None,
    precision: int = 3,
) -> Path:
    """Save ``edits`` (one image or many) into the ``landmarks.csv`` at ``path``,
    changing only what they state (see the module docstring); returns ``path``.

    ``landmarks`` orders the new rows (landmark-set order first); ``precision``: decimals
    of the coordinates written. Raises :class:`AnnotationError` for a file that cannot be
    edited (unreadable, not UTF-8, no ``image,landmark,x,y`` header) or an image path that
    is refused, :class:`ValueError` for a malformed edit (a non-finite coordinate, an
    image given twice). Nothing is written then.
    """
    path = Path(path)
    plans = _plans(path, [edits] if isinstance(edits, ImageEdit) else list(edits), landmarks)
    original = None
    if path.exists():
        text = read_annotation_text(path)
        original = path.read_bytes()
        bom = original[:3] == b"\xef\xbb\xbf"
    else:
        text, bom = "", False
    records = split_records(text)
    needed = []
    if any(isinstance(p.spacing, tuple) for p in plans.values()):
        needed.append("spacing_mm")
    if any(any(p.occluded.values()) for p in plans.values()):
        needed.append("occluded")
    if not records or not records[0].strip():
        records = [csv_line([*REQUIRED_COLUMNS, *needed]), *records[1:]]
    header = _parse(records[0]) or []  # as csv.DictReader names the columns
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise AnnotationError(path, f"missing column(s) {', '.join(missing)}")
    newline = line_end(records[0]) or "\n"
    added = [c for c in needed if c not in header]
    if added:
        records[0] = records[0][: len(records[0]) - len(line_end(records[0]))]
        records[0] += "".join("," + quote(c) for c in added) + newline
        header += added
    wanted = (*REQUIRED_COLUMNS, "spacing_mm", "occluded")
    columns = {c: header.index(c) for c in wanted if c in header}

    out = [records[0]]
    for raw in records[1:]:
        row = _Row.parse(raw, columns)
        plan = plans.get(row.image) if row is not None else None
        if plan is None:
            out.append(raw)
            continue
        plan.first = len(out) if plan.first is None else plan.first
        kept = plan.apply(row, columns, precision)
        if kept is not None:
            out.append(kept)
            plan.last = len(out)
    # new rows, from the last insertion point backwards so earlier points stay valid
    insertions = []
    for plan in plans.values():
        rows = plan.new_rows(header, columns, precision, newline)
        if rows:
            at = plan.last if plan.last is not None else plan.first
            insertions.append((len(out) if at is None else at, plan.order, rows))
    for at, _, rows in sorted(insertions, key=lambda t: (t[0], t[1]), reverse=True):
        if not line_end(out[at - 1]):
            out[at - 1] += newline
        out[at:at] = rows
    data = (b"\xef\xbb\xbf" if bom else b"") + "".join(out).encode("utf-8")
    if data == original or (original is None and len(out) == 1):
        return path  # nothing changed, or nothing to create: the file is not touched
    write_bytes_atomic(path, data)
    return path


def replace_image_rows(
    csv_path: str | Path,
    image: str,
    labels: ImageLabels,
    landmarks: LandmarkSet,
    precision: int = 3,
) -> Path:
    """Save one image's ``labels`` as its complete annotation for ``landmarks``: each
    landmark present, absent, or not annotated (row removed) —
    ``update_landmarks_csv(csv_path, ImageEdit.from_labels(labels, landmarks,
    image=image), landmarks)``. Extra cells, rows of unknown landmarks and every other
    image's rows are kept."""
    edit = ImageEdit.from_labels(labels, landmarks, image=image)
    return update_landmarks_csv(csv_path, [edit], landmarks, precision)


# ----- internals ---------------------------------------------------------------------
@dataclass
class _Row:
    """A data record split into raw cells (as written) and their values."""

    raw: str
    cells: list[str]
    values: list[str]
    image: str
    landmark: str

    @classmethod
    def parse(cls, raw: str, columns: dict[str, int]) -> _Row | None:
        """None for a blank record, one that does not parse, or a refused image path."""
        if not raw.strip():
            return None
        values = _parse(raw)
        cells = split_cells(raw)
        if values is None or len(values) != len(cells):
            return None
        values = [restore(v) for v in values]
        try:
            image = normalise_image_path(values[columns["image"]])
            landmark = values[columns["landmark"]].strip()
        except (IndexError, ValueError):
            return None
        return cls(raw, cells, values, image, landmark)

    def value(self, column: int) -> str:
        return self.values[column] if column < len(self.values) else ""

    def set(self, column: int, text: str) -> None:
        while len(self.cells) <= column:
            self.cells.append("")
            self.values.append("")
        self.cells[column], self.values[column] = quote(text), text

    def text(self) -> str:
        return ",".join(self.cells) + line_end(self.raw)


@dataclass
class _Plan:
    """One image's edit, checked, and where its rows are in the output."""

    key: str
    points: dict[str, Point]
    spacing: tuple[float, float] | Mark | None
    occluded: dict[str, bool]
    order: int
    seen: set[str] = field(default_factory=set)
    first: int | None = None  # output index of the image's first row
    last: int | None = None  # output index after the image's last kept row
    spacing_cell: str = ""  # the image's spacing as its rows give it (for new rows)

    def apply(self, row: _Row, columns: dict[str, int], precision: int) -> str | None:
        """The record's new text, or None when it is removed."""
        state = self.points.get(row.landmark, UNCHANGED)
        if state is NOT_ANNOTATED:
            return None
        changed = False
        if state is not UNCHANGED:
            if row.landmark in self.seen:
                return None  # a later duplicate of a stated landmark
            self.seen.add(row.landmark)
            for axis, text in zip(("x", "y"), _xy_text(state, precision), strict=True):
                if not _same_number(row.value(columns[axis]), text):
                    row.set(columns[axis], text)
                    changed = True
        if "spacing_mm" in columns:
            col = columns["spacing_mm"]
            if self.spacing is not UNCHANGED:
                text = format_spacing(self.spacing) if self.spacing is not None else ""
                if not _same_spacing(row.value(col), text):
                    row.set(col, text)
                    changed = True
            if not self.spacing_cell:
                self.spacing_cell = row.value(col).strip()
        if row.landmark in self.occluded and "occluded" in columns:
            col = columns["occluded"]
            flag = self.occluded[row.landmark]
            if BOOLEAN_WORDS.get(row.value(col).strip().lower()) != flag:
                row.set(col, str(int(flag)))
                changed = True
        return row.text() if changed else row.raw

    def new_rows(
        self, header: list[str], columns: dict[str, int], precision: int, newline: str
    ) -> list[str]:
        """Records for the stated landmarks that had no row."""
        spacing = self.spacing_cell
        if self.spacing is not UNCHANGED:
            spacing = format_spacing(self.spacing) if self.spacing is not None else ""
        rows = []
        for name, state in self.points.items():
            if state in (NOT_ANNOTATED, UNCHANGED) or name in self.seen:
                continue
            x, y = _xy_text(state, precision)
            cells = {
                "image": self.key,
                "landmark": name,
                "x": x,
                "y": y,
                "spacing_mm": spacing,
                "occluded": str(int(self.occluded.get(name, False))),
            }
            rows.append(csv_line([cells.get(c, "") for c in header], newline))
        return rows


def _plans(path: Path, edits: list[ImageEdit], landmarks: LandmarkSet | None) -> dict[str, _Plan]:
    """The edits checked and keyed by normalised image path."""
    order = {name: i for i, name in enumerate(landmarks.names)} if landmarks else {}
    plans: dict[str, _Plan] = {}
    for n, edit in enumerate(edits):
        if not isinstance(edit, ImageEdit):
            raise TypeError(f"expected ImageEdit, got {type(edit).__name__}")
        try:
            key = normalise_image_path(edit.image)
        except ValueError as exc:
            raise AnnotationError(path, str(exc)) from None
        if key in plans:
            raise ValueError(f"image {key!r} is given twice in one save")
        points = {}
        for name, state in edit.points.items():
            points[_name(name, key)] = _point(state, key, name)
        names = sorted(points, key=lambda m: (order.get(m, len(order)), list(points).index(m)))
        plans[key] = _Plan(
            key,
            {m: points[m] for m in names},
            _spacing(edit.spacing, key),
            {_name(m, key): bool(v) for m, v in edit.occluded.items()},
            n,
        )
    return plans


def _name(name, image: str) -> str:
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise ValueError(f"{image}: landmark name {name!r} is empty or has outer spaces")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ValueError(f"{image}: landmark name {name!r} contains control characters")
    return name


def _point(state, image: str, name: str) -> Point:
    if isinstance(state, Mark):
        return state
    try:
        x, y = (float(v) for v in state)
    except (TypeError, ValueError):
        raise ValueError(
            f"{image} / {name}: expected (x, y), ABSENT, NOT_ANNOTATED or UNCHANGED, got {state!r}"
        ) from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"{image} / {name}: position ({x}, {y}) is not finite; use ABSENT")
    return (x, y)


def _spacing(spacing, image: str):
    if spacing is None or spacing is UNCHANGED:
        return spacing
    try:
        row, col = (float(v) for v in spacing)
    except (TypeError, ValueError):
        raise ValueError(f"{image}: spacing must be (row_mm, col_mm), got {spacing!r}") from None
    if not all(math.isfinite(v) and v > 0 for v in (row, col)):
        raise ValueError(f"{image}: spacing {spacing!r} must be positive finite numbers")
    return (row, col)


def _xy_text(state: Point, precision: int) -> tuple[str, str]:
    if state is ABSENT:
        return "", ""
    x, y = state  # type: ignore[misc]
    return f"{x:.{precision}f}", f"{y:.{precision}f}"


def _same_number(old: str, new: str) -> bool:
    """Whether cell ``old`` already holds ``new`` (a number at its precision, or empty)."""
    old = old.strip()
    if not new or not old:
        return not new and not old
    decimals = len(new.partition(".")[2])
    try:
        return f"{parse_decimal(old):.{decimals}f}" == new
    except ValueError:
        return False


def _same_spacing(old: str, new: str) -> bool:
    try:
        return parse_spacing(old) == parse_spacing(new)
    except ValueError:
        return False


def _parse(raw: str) -> list[str] | None:
    try:
        return next(csv.reader(io.StringIO(raw, newline="")), [])
    except csv.Error:
        return None
