"""A Grayscale Softcopy Presentation State drawing one image's result over it, for
viewers that do not render SR: each present landmark as a POINT with a circle around it
and its name as text ("… (review)" when flagged), per leg the mechanical axis
(femoral head → ankle centre) and the femoral and tibial mechanical axes (head → knee →
ankle), and, in a corner of the display, the measurements and the absent landmarks.

Coordinates are PIXEL annotation units: apn (x, y) + 0.5 (see
:mod:`apn_core.dicom_out.result`), kept inside (0, 0)–(Columns, Rows) as the standard
requires. The display keeps the source's look: its window (VOI) when it has one, else a
window over the 0.5–99.5 % range of its pixel values; MONOCHROME1 sources get an
INVERSE presentation LUT (a presentation state replaces the photometric
interpretation's own inversion).
"""

from __future__ import annotations

import math

import numpy as np

from apn_core.dicom_out.result import LandmarkResult, to_dicom_xy
from apn_core.dicom_out.source import derived_uid, evidence
from apn_core.dicom_out.sr import CHARSET

PR_SERIES_NUMBER = 9902
CONTENT_LABEL = "APN_LANDMARKS"
CIRCLE_MM, CIRCLE_PX = 10.0, 15.0  # circle radius with / without a pixel spacing
AXES = (("femur", "ankle"), ("femur", "knee", "ankle"))


def gsps_uids(source, result: LandmarkResult) -> tuple[str, str]:
    """(SeriesInstanceUID, SOPInstanceUID) of the presentation state of ``result``."""
    key = result.algorithm.key
    return (
        derived_uid("pr-series", str(source.StudyInstanceUID), key),
        derived_uid("pr", str(source.SOPInstanceUID), key),
    )


def summary_lines(result: LandmarkResult) -> list[str]:
    """Short text lines: per leg HKA/MAD/length (or "-"), LLD, absent and flagged landmarks."""

    def fmt(value, unit: str) -> str:
        return "-" if value is None or not math.isfinite(value) else f"{value:.1f} {unit}"

    lines = []
    for side in ("right", "left"):
        leg = result.alignment.get(side) or {}
        lines.append(
            f"{side}: HKA {fmt(leg.get('hka_deg'), 'deg')} (varus +), "
            f"MAD {fmt(leg.get('mad_mm'), 'mm')}, length {fmt(leg.get('length_mm'), 'mm')}"
        )
    lines.append(f"LLD (R-L): {fmt(result.alignment.get('lld_mm'), 'mm')}")
    absent = [n for n, p in zip(result.names, result.present, strict=True) if not p]
    if absent:
        lines.append("absent: " + ", ".join(absent))
    flagged = [n for n, f in zip(result.names, result.needs_review, strict=True) if f]
    if flagged or result.image_needs_review:
        lines.append("NEEDS REVIEW: " + (", ".join(flagged) or "whole image"))
    return lines


def build_gsps(source, result: LandmarkResult, window: tuple[float, float] | None = None):
    """The presentation state (highdicom) of ``result`` on the image whose header is
    ``source``; ``window`` (centre, width) is used when the source has no VOI of its own."""
    import highdicom as hd

    src = evidence(source)
    cols, rows = int(src.Columns), int(src.Rows)
    xy = np.clip(to_dicom_xy(result.xy), [0.0, 0.0], [cols, rows])
    spacing = result.algorithm.spacing
    radius = CIRCLE_MM / spacing[1] if spacing else CIRCLE_PX
    pixel = hd.pr.AnnotationUnitsValues.PIXEL
    points_layer = hd.pr.GraphicLayer("LANDMARKS", 1, "napari-apn landmarks")
    axes_layer = hd.pr.GraphicLayer("AXES", 2, "mechanical axes")
    text_layer = hd.pr.GraphicLayer("MEASUREMENTS", 3, "measurements and review")

    graphics, labels = [], []
    for i, name in enumerate(result.names):
        if not result.present[i]:
            continue
        c, r = (float(v) for v in xy[i])
        edge = c + radius if c + radius <= cols else c - radius
        graphics.append(hd.pr.GraphicObject("POINT", np.array([[c, r]]), pixel))
        graphics.append(
            hd.pr.GraphicObject("CIRCLE", np.array([[c, r], [max(0.0, edge), r]]), pixel)
        )
        text = name + (" (review)" if result.needs_review[i] else "")
        labels.append(
            hd.pr.TextObject(
                text,
                pixel,
                anchor_point=(min(cols, c + radius), max(0.0, r - radius)),
                anchor_point_visible=False,
            )
        )
    lines = []
    for side in ("right", "left"):
        for axis in AXES:
            idx = [_index(result, f"{part}_{side}") for part in axis]
            if all(i is not None and result.present[i] for i in idx):
                lines.append(hd.pr.GraphicObject("POLYLINE", xy[idx].astype(float), pixel))
    summary = [
        hd.pr.TextObject(
            line,
            hd.pr.AnnotationUnitsValues.DISPLAY,
            bounding_box=(0.01, 0.01 + 0.03 * n, 0.99, 0.04 + 0.03 * n),
        )
        for n, line in enumerate(summary_lines(result))
    ]
    annotations = []
    if graphics:
        annotations.append(
            hd.pr.GraphicAnnotation(
                [src], points_layer, graphic_objects=graphics, text_objects=labels
            )
        )
    if lines:
        annotations.append(hd.pr.GraphicAnnotation([src], axes_layer, graphic_objects=lines))
    annotations.append(hd.pr.GraphicAnnotation([src], text_layer, text_objects=summary))
    kwargs = {}
    if window is not None and "WindowCenter" not in src and "VOILUTSequence" not in src:
        kwargs["voi_lut_transformations"] = [
            hd.pr.SoftcopyVOILUTTransformation(window_center=window[0], window_width=window[1])
        ]
    if str(src.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        kwargs["presentation_lut_transformation"] = hd.PresentationLUTTransformation(
            presentation_lut_shape=hd.PresentationLUTShapeValues.INVERSE
        )
    series_uid, sop_uid = gsps_uids(source, result)
    return hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[src],
        series_instance_uid=series_uid,
        series_number=PR_SERIES_NUMBER,
        sop_instance_uid=sop_uid,
        instance_number=max(1, int(src.get("InstanceNumber") or 1)),
        manufacturer="napari-apn",
        manufacturer_model_name=result.algorithm.model[:64],
        software_versions=result.algorithm.software_version,
        device_serial_number="",
        content_label=CONTENT_LABEL,
        content_description=f"{result.algorithm.name} landmarks and mechanical axes"[:64],
        graphic_annotations=annotations,
        graphic_layers=[points_layer, axes_layer, text_layer],
        series_description="napari-apn leg alignment (presentation state)",
        specific_character_set=CHARSET,
        **kwargs,
    )


def _index(result: LandmarkResult, name: str) -> int | None:
    return result.names.index(name) if name in result.names else None


def auto_window(path) -> tuple[float, float] | None:
    """(centre, width) over the 0.5–99.5 % range of the stored values after the modality
    LUT — the window a presentation state needs when the source names none."""
    import pydicom
    from pydicom.pixels import apply_rescale

    try:
        ds = pydicom.dcmread(path)
        values = np.asarray(apply_rescale(ds.pixel_array[::4, ::4], ds), dtype=np.float64)
    except Exception:  # no window is a lesser loss than no presentation state
        return None
    lo, hi = np.percentile(values, [0.5, 99.5])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    return float((lo + hi) / 2), float(max(hi - lo, 1.0))
