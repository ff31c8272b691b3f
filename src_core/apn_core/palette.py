"""One colour per landmark index, shared by overlays, README pictures and napari layers:
right side warm, left side cool, so a swapped pair is visible at a glance."""

from __future__ import annotations

LANDMARK_RGB = (
    (255, 77, 77),
    (77, 166, 255),
    (255, 184, 77),
    (77, 255, 210),
    (255, 233, 77),
    (184, 77, 255),
)


def rgb(index: int) -> tuple[int, int, int]:
    return LANDMARK_RGB[index % len(LANDMARK_RGB)]


def hex_colour(index: int) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb(index))
