"""Bone as a material: attenuation of cortex, trabecular bone and marrow, and the two solids
every bone is built from (a cancellous ellipsoid in a cortical shell; a growth plate).

Values are μ·t (dimensionless) of bone in excess of the soft tissue it displaces.
"""

from __future__ import annotations

from apn_core.synth.anatomy import Frame
from apn_core.synth.projection import ellipsoid, shell

MU_CORTEX = 0.045
MU_TRABECULAR = 0.013
MU_MARROW = 0.004


def bone_ellipsoid(
    layer, grid, centre, axes, depth, cortex, angle_deg=0.0, half=None, dense=1.0, mode="add"
):
    """A cancellous bone ellipsoid inside a cortical shell ``cortex`` mm thick. ``mode="max"``
    merges its core with bone already drawn (one bone's parts do not double up)."""
    shell(layer, grid, centre, axes, depth, cortex, MU_CORTEX, angle_deg, half=half)
    inner = (axes[0] - cortex, axes[1] - cortex)
    if min(inner) > 0:
        ellipsoid(
            layer,
            grid,
            centre,
            inner,
            depth - cortex,
            MU_TRABECULAR * dense,
            angle_deg,
            mode=mode,
            half=half,
        )


def physis(layer, grid, frame: Frame, v: float, half_width: float, depth: float) -> None:
    """An open growth plate: a thin radiolucent band across the bone at ``v`` (children)."""
    ellipsoid(
        layer,
        grid,
        frame.at(0.0, v),
        (half_width, 1.1),
        depth,
        -MU_TRABECULAR * 1.4,
        frame.angle_deg,
    )
