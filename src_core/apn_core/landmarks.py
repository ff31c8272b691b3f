"""The landmark set: names, and which pairs swap under a horizontal flip.

A landmark set is data, not code: another anatomy defines its own list. Throughout the
project landmark coordinates are arrays of shape ``(K, 2)`` in **(x, y) = (column, row)**
order, in pixels of the image as displayed (as stored unless a TIFF/EXIF Orientation turns it,
:mod:`apn_core.io.orientation`), ``(0, 0)`` being the centre of the top-left pixel.
A landmark that is not in the image, or not annotated, has ``NaN`` coordinates; whether it
was annotated at all is kept in a separate boolean mask (see ``apn_core.annotations``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apn_core.errors import escape_controls


@dataclass(frozen=True)
class LandmarkSet:
    """An ordered list of landmark names.

    ``mirror_pairs`` lists name pairs that trade places when the image is flipped left to
    right (patient's right is on the image's left, so a flip turns a right hip into a left
    one). ``name``/``description`` are for humans and saved with every model.
    """

    names: tuple[str, ...]
    mirror_pairs: tuple[tuple[str, str], ...] = ()
    name: str = "custom"
    description: str = ""
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"duplicate landmark names in {self.names}")
        if not self.names:
            raise ValueError("a landmark set needs at least one name")
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(self.names)})
        paired: dict[str, tuple[str, str]] = {}
        for pair in self.mirror_pairs:
            a, b = pair
            if a not in self._index or b not in self._index:
                raise ValueError(f"mirror pair ({a}, {b}) names an unknown landmark")
            if a == b:
                raise ValueError(f"mirror pair ({a}, {b}) pairs a landmark with itself")
            for name in pair:  # a flip maps each landmark to one partner
                if name in paired:
                    raise ValueError(
                        f"{name} is in two mirror pairs ({', '.join(paired[name])}) and "
                        f"({a}, {b}); a flip maps each landmark to one partner"
                    )
                paired[name] = pair

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def index(self, name: str) -> int:
        """Position of ``name``; ``KeyError`` with the known names if unknown."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"unknown landmark {name!r}; known: {', '.join(self.names)}") from None

    def flip_permutation(self) -> list[int]:
        """Index permutation to apply after a horizontal flip (``new[i] = old[perm[i]]``)."""
        perm = list(range(len(self.names)))
        for a, b in self.mirror_pairs:
            ia, ib = self._index[a], self._index[b]
            perm[ia], perm[ib] = ib, ia
        return perm

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "names": list(self.names),
            "mirror_pairs": [list(p) for p in self.mirror_pairs],
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, d: object) -> LandmarkSet:
        """From ``{"names": [...], "mirror_pairs": [[a, b], ...], "name": ..., "description":
        ...}``, checked: ``ValueError`` names the first problem (``{"names": "abc"}`` is not
        three landmarks, an unknown key is a typo, not something to ignore)."""
        if not isinstance(d, dict):
            raise ValueError("a landmark set is a JSON object with a 'names' list")
        unknown = sorted(set(d) - set(KEYS))
        if unknown:
            shown = ", ".join(repr(escape_controls(k)[:40]) for k in unknown[:4])
            raise ValueError(f"unknown key(s) {shown}; known: {', '.join(KEYS)}")
        names = d.get("names")
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) and n for n in names):
            raise ValueError("'names' must be a list of non-empty texts")
        pairs = d.get("mirror_pairs", [])
        if not isinstance(pairs, list | tuple) or not all(
            isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(n, str) for n in p)
            for p in pairs
        ):
            raise ValueError("'mirror_pairs' must be a list of [name, name] pairs")
        for key in ("name", "description"):
            if not isinstance(d.get(key, ""), str):
                raise ValueError(f"{key!r} must be text")
        return cls(
            names=tuple(names),
            mirror_pairs=tuple((a, b) for a, b in pairs),
            name=d.get("name", "custom"),
            description=d.get("description", ""),
        )


KEYS = ("names", "mirror_pairs", "name", "description")

DEFAULT_LANDMARKS = LandmarkSet(
    names=("femur_right", "femur_left", "knee_right", "knee_left", "ankle_right", "ankle_left"),
    mirror_pairs=(
        ("femur_right", "femur_left"),
        ("knee_right", "knee_left"),
        ("ankle_right", "ankle_left"),
    ),
    name="lower-limb-6",
    description=(
        "Femoral head centre, knee joint centre and ankle joint centre of each leg on a "
        "standing AP long-leg radiograph; the patient's right is on the image's left."
    ),
)
