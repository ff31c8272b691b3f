"""Validation findings, collected (not raised) so a user sees every problem at once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from apn_core.errors import escape_controls

# Kinds of problem, in the order reports list them, with what each means. ERROR kinds
# stop training and evaluation; WARNING kinds are reported and the rest goes on.
ERRORS = {
    "bad-path": "an image path in landmarks.csv is absolute, leaves DATA (..), or is not a "
    "regular file; it is never read",
    "missing-file": "an image listed in landmarks.csv does not exist",
    "unreadable-image": "an image file is corrupt, truncated, colour, multi-frame or not an image",
    "image-too-large": "an image declares more pixels than the size limit; it was not decoded",
    "non-finite-pixels": "an image holds NaN or infinite pixel values",
    "blank-image": "an image is blank (one constant value) or has no contrast",
    "malformed-row": "a landmarks.csv row cannot be parsed (empty image/landmark, bad CSV)",
    "malformed-sidecar": "a .mrk.json or napari Points CSV sidecar is malformed",
    "unknown-landmark": "a landmark name is not in the landmark set",
    "duplicate-row": "the same image and landmark appear twice",
    "bad-coordinate": "x/y are not plain finite numbers, or only one of them is given",
    "bad-value": "a spacing_mm or occluded cell is not a valid value",
    "out-of-image": "a landmark lies outside its image",
    "spacing-conflict": "two rows give different spacing_mm for one image",
    "sidecar-conflict": "an image has both a .mrk.json and a .csv sidecar",
    "missing-spacing": "an image has no usable pixel spacing from any source",
    "no-labelled-images": "no usable labelled image at all",
}
WARNINGS = {
    "unlabelled-image": "an image has no rows and no sidecar; skipped",
    "sidecar-ignored": "a sidecar is ignored because landmarks.csv labels its image",
    "spacing-mismatch": "spacing_mm in landmarks.csv differs from the file's own by > 1 %; "
    "the CSV value is used",
}
ERROR_KINDS = tuple(ERRORS)
WARNING_KINDS = tuple(WARNINGS)
KIND_DESCRIPTIONS = {**ERRORS, **WARNINGS}


@dataclass(frozen=True)
class Problem:
    """One finding: its kind, where (``file`` or ``file:line``) and what, in words."""

    kind: str
    where: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.kind in ERROR_KINDS

    def __str__(self) -> str:
        level = "error" if self.is_error else "warning"
        return escape_controls(f"{level} [{self.kind}] {self.where}: {self.message}")


@dataclass
class Report:
    """All problems found in a labelled folder, with counts per kind."""

    problems: list[Problem] = field(default_factory=list)
    n_images: int = 0
    n_labelled: int = 0
    n_landmarks: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, where: str, message: str) -> None:
        if kind not in KIND_DESCRIPTIONS:  # an unknown kind would count as a warning
            raise ValueError(f"unknown problem kind {kind!r}")
        self.problems.append(Problem(kind, where, message))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def ok(self) -> bool:
        """True when training could start on this folder."""
        return not self.errors

    def counts(self) -> dict[str, int]:
        order = {k: i for i, k in enumerate(ERROR_KINDS + WARNING_KINDS)}
        c = Counter(p.kind for p in self.problems)
        return dict(sorted(c.items(), key=lambda kv: order.get(kv[0], 99)))

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "images": self.n_images,
            "labelled_images": self.n_labelled,
            "landmarks": self.n_landmarks,
            "counts": self.counts(),
            "problems": [
                {
                    "level": "error" if p.is_error else "warning",
                    "kind": p.kind,
                    "where": p.where,
                    "message": p.message,
                }
                for p in self.problems
            ],
        }
