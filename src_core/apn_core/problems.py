"""Validation findings, collected (not raised) so a user sees every problem at once."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# Kinds of problem, in the order reports list them. ERROR kinds stop training.
ERROR_KINDS = (
    "missing-file",
    "unreadable-image",
    "malformed-row",
    "unknown-landmark",
    "duplicate-row",
    "bad-coordinate",
    "out-of-image",
    "missing-spacing",
    "no-labelled-images",
)
WARNING_KINDS = ("unlabelled-image", "sidecar-ignored", "spacing-mismatch")


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
        return f"{level} [{self.kind}] {self.where}: {self.message}"


@dataclass
class Report:
    """All problems found in a labelled folder, with counts per kind."""

    problems: list[Problem] = field(default_factory=list)
    n_images: int = 0
    n_labelled: int = 0
    n_landmarks: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, where: str, message: str) -> None:
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
