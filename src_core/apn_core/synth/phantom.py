"""Anatomy + hardware → attenuation maps (μ·t, dimensionless) on the detector grid.

Bones (:mod:`.bones`) are cortical shells around trabecular/marrow cores, so shafts show
the bright double line of real cortices. Soft tissue is a union of limbs (max of chords,
not sum). Attenuation coefficients are per mm at ~60 keV effective energy, bone values in
excess of the soft tissue they displace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apn_core.synth import ankle, bones
from apn_core.synth.anatomy import Anatomy, Leg
from apn_core.synth.filters import upsample
from apn_core.synth.hardware import Hardware, render_hardware
from apn_core.synth.projection import Grid, ellipsoid, tube

MU_SOFT = 0.018
SOFT_GRID_MM = 2.0  # soft tissue is evaluated on a grid this coarse and interpolated


@dataclass
class AttenuationMaps:
    """The layers of one case on the detector grid.

    soft: soft-tissue thickness (mm); bone: μ·t of bone in excess of soft tissue;
    occluder: μ·t of metal and lead (implants, shields, ruler ticks, markers);
    extra: μ·t of everything else (casts, cement, plastic, positioning blocks).
    """

    soft: np.ndarray
    bone: np.ndarray
    occluder: np.ndarray
    extra: np.ndarray

    def total(self) -> np.ndarray:
        return MU_SOFT * self.soft + self.bone + self.occluder + self.extra


def empty_maps(grid: Grid) -> AttenuationMaps:
    return AttenuationMaps(*(np.zeros(grid.shape, np.float32) for _ in range(4)))


def render_phantom(
    anatomy: Anatomy, hardware: Hardware | None, grid: Grid, rng: np.random.Generator | None = None
) -> AttenuationMaps:
    """Evaluate every structure of the case on ``grid`` (``rng`` is unused, kept for callers)."""
    hw = hardware or Hardware()
    maps = empty_maps(grid)
    factor = max(1, int(SOFT_GRID_MM // grid.spacing))  # soft tissue is smooth: coarse grid
    if factor > 1 and min(grid.shape) >= 4 * factor:
        coarse = grid.coarse(factor)
        soft = np.zeros(coarse.shape, np.float32)
        soft_tissue(soft, coarse, anatomy)
        maps.soft[:] = upsample(soft, *grid.shape, factor)
    else:
        soft_tissue(maps.soft, grid, anatomy)
    bones.pelvis(maps.bone, grid, anatomy)
    for leg in anatomy.legs.values():
        leg_bones(maps.bone, grid, leg, hw)
    np.maximum(maps.bone, 0.0, out=maps.bone)  # growth plates subtract; never below nothing
    render_hardware(maps, grid, anatomy, hw)
    return maps


def leg_bones(layer: np.ndarray, grid: Grid, leg: Leg, hw: Hardware) -> None:
    """All bones of one leg, minus what an amputation or a joint replacement removed."""
    level = leg.amputation
    if level == "hip":
        return
    hip = hw.get("hip", leg.side)
    head = hip is None or hip.style == "resurfacing"
    if level == "transfemoral":
        bones.femur(layer, grid, leg, head=head, cut=leg.cut_mm())
        return
    bones.femur(layer, grid, leg, head=head)
    bones.patella(layer, grid, leg)
    cut = leg.cut_mm() if level == "transtibial" else None
    bones.tibia(layer, grid, leg, cut=cut, spines=not hw.has("knee", leg.side))
    bones.fibula(layer, grid, leg, cut=cut)
    if cut is None:
        ankle.plafond_lips(layer, grid, leg)
        ankle.talus(layer, grid, leg)
        ankle.foot(layer, grid, leg)


def soft_tissue(layer: np.ndarray, grid: Grid, a: Anatomy) -> None:
    """Trunk, thighs, calves and feet (max-combined), with amputation stumps."""
    k, st = a.scale, a.soft_tissue
    hips = np.array([leg.hip for leg in a.legs.values()])
    centre = (float(hips[:, 0].mean()), float(hips[:, 1].mean()) - 40 * k)
    half_width = abs(hips[1, 0] - hips[0, 0]) / 2 + 95 * k * st
    ellipsoid(layer, grid, centre, (half_width, 170 * k), 110 * k * st, mode="max")
    for leg in a.legs.values():
        thigh_r, knee_r = 85 * k * st * leg.j("soft"), 52 * k * st
        top = leg.hip + leg.femur_frame().lat * 25 * k - leg.femur_frame().down * 30 * k
        if leg.amputation == "hip":
            ellipsoid(
                layer,
                grid,
                tuple(leg.hip + leg.femur_frame().down * 40 * k),
                (thigh_r, 70 * k),
                thigh_r,
                mode="max",
            )
            continue
        if leg.amputation == "transfemoral":
            stump = leg.hip + leg.femur_frame().down * (leg.cut_mm() + 25 * k)
            tube(
                layer,
                grid,
                tuple(top),
                tuple(stump),
                thigh_r,
                knee_r * 1.1,
                mode="max",
                rounded=True,
            )
            continue
        tube(layer, grid, tuple(top), tuple(leg.knee), thigh_r, knee_r, mode="max", rounded=True)
        calf = leg.knee + 0.35 * (leg.ankle - leg.knee)
        calf_r = 58 * k * st * leg.j("soft")
        if leg.amputation == "transtibial":
            stump = np.array(leg.knee_frame().at(0, leg.cut_mm() + 25 * k))
            tube(
                layer,
                grid,
                tuple(leg.knee),
                tuple(stump),
                knee_r,
                calf_r * 0.9,
                mode="max",
                rounded=True,
            )
            continue
        tube(layer, grid, tuple(leg.knee), tuple(calf), knee_r, calf_r, mode="max", rounded=True)
        tube(layer, grid, tuple(calf), tuple(leg.ankle), calf_r, 30 * k, mode="max", rounded=True)
        ankle.foot_soft_tissue(layer, grid, leg)
