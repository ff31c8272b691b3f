"""Review flags: which landmarks (and measurements) a human should look at, and why.

A landmark **needs review** when any of these holds:

- it is reported present and its calibrated ``p_within ≤ threshold`` (the calibrator's
  review threshold) → ``"low confidence 0.31"``;
- it is reported absent but its calibrated ``p_present ≥ presence_threshold`` →
  ``"reported absent, but 0.62 likely in the image"`` (not on an image where no landmark
  was found at all, or none with confidence — a chest or hand film, where the model may
  still place one low-confidence point: its ``p_present`` is not reported (NaN) and the
  image, not each landmark, is the finding);
- an anatomical plausibility check implicates it (pinned to it, or — when the check
  cannot tell which — to each landmark it names) → the check's reason.

``review_reason`` joins the reasons with ``"; "`` (empty when none). A measurement is
**unreliable** when one of the landmarks it is computed from needs review or is absent:
its value is blanked (``None`` — written as an empty cell or "–", never ``nan``) and the
reason names the landmark. Everything here is a pure function of arrays and returns
JSON-friendly values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from apn_core.inference.plausibility import NO_CONFIDENT_LANDMARK, Finding

SEP = "; "
LEG_KEYS = ("hka_deg", "mad_mm", "length_mm", "femur_mm", "tibia_mm")


@dataclass
class ImageReview:
    """Review of one image. ``present`` ``(K,)`` bool as reported; ``needs_review`` ``(K,)`` bool and ``reasons`` (K strings,
    ``"; "``-joined, "" when fine) per landmark in ``names`` order; ``findings``: the
    plausibility findings; ``image_reasons``: findings that concern the whole image."""

    names: tuple[str, ...]
    present: np.ndarray
    needs_review: np.ndarray
    reasons: list[str]
    p_within: np.ndarray
    p_present: np.ndarray
    findings: list[Finding] = field(default_factory=list)

    @property
    def image_needs_review(self) -> bool:
        """A flagged landmark, or nothing found at all (someone should look at the film)."""
        return bool(self.needs_review.any()) or not bool(self.present.any())

    @property
    def image_reasons(self) -> list[str]:
        """Reasons of findings that implicate more than two landmarks without pinning one
        (spacing, mirrored or upside-down image)."""
        return [f.reason for f in self.findings if f.pinned is None and len(f.landmarks) > 2]

    def reason(self, name: str) -> str:
        return self.reasons[self.names.index(name)]

    def rows(self) -> list[dict]:
        """Per landmark ``{"landmark", "needs_review": 0/1, "review_reason"}`` (landmarks.csv)."""
        return [
            {"landmark": n, "needs_review": int(f), "review_reason": r}
            for n, f, r in zip(self.names, self.needs_review, self.reasons, strict=True)
        ]

    def summary(self) -> dict:
        """Per image: whether it needs review, which landmarks, and the image-level reasons."""
        flagged = [n for n, f in zip(self.names, self.needs_review, strict=True) if f]
        return {
            "needs_review": self.image_needs_review,
            "n_flagged": len(flagged),
            "flagged": flagged,
            "image_reasons": self.image_reasons,
        }

    def to_dict(self) -> dict:
        return {
            **self.summary(),
            "landmarks": [
                {**row, "p_within": _num(self.p_within[i]), "p_present": _num(self.p_present[i])}
                for i, row in enumerate(self.rows())
            ],
            "findings": [f.to_dict() for f in self.findings],
        }


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def review_image(
    names: Sequence[str],
    present: np.ndarray,
    p_within: np.ndarray | None = None,
    threshold: float | None = None,
    p_present: np.ndarray | None = None,
    presence_threshold: float | None = None,
    findings: Sequence[Finding] = (),
) -> ImageReview:
    """Combine calibrated probabilities and plausibility findings into per-landmark flags.

    names: K landmark names; present: ``(K,)`` bool as reported by the model.
    p_within / threshold: from a Calibrator (``calibrator.probability(features)``,
    ``calibrator.threshold``); None = no calibration (no confidence flags). NaN
    probabilities are skipped. p_present / presence_threshold: likewise for absent ones.
    findings: from :func:`apn_core.inference.plausibility.check_plausibility`.
    """
    names = tuple(names)
    k = len(names)
    present = np.asarray(present, dtype=bool).reshape(k)
    pw = (
        np.full(k, np.nan)
        if p_within is None
        else np.asarray(p_within, dtype=np.float64).reshape(k)
    )
    pp = (
        np.full(k, np.nan)
        if p_present is None
        else np.asarray(p_present, dtype=np.float64).reshape(k)
    )
    findings = list(findings)
    low = present & np.isfinite(pw) & (pw <= threshold) if threshold is not None else None
    if low is not None and present.any() and (low == present).all():
        # every landmark found is below the review threshold: on a hand or a noise image
        # the model still places a point or two, and the film is no more read than one
        # where it found nothing
        findings.append(Finding("no_landmark", NO_CONFIDENT_LANDMARK, names))
    if any(f.check == "no_landmark" for f in findings):
        # p_present was calibrated on long-leg films, where "absent" means outside the
        # field of view; on an image with no landmark at all (a chest or hand film) it
        # answers a question that does not apply: not reported, the image is the finding
        pp = np.full(k, np.nan)
    reasons: list[list[str]] = [[] for _ in range(k)]
    for i in range(k):
        if present[i] and threshold is not None and np.isfinite(pw[i]) and pw[i] <= threshold:
            reasons[i].append(f"low confidence {pw[i]:.2f}")
        if (
            not present[i]
            and presence_threshold is not None
            and np.isfinite(pp[i])
            and pp[i] >= presence_threshold
        ):
            reasons[i].append(f"reported absent, but {pp[i]:.2f} likely in the image")
    index = {n: i for i, n in enumerate(names)}
    for f in findings:
        targets = [f.pinned] if f.pinned else list(f.landmarks)
        for name in targets:
            i = index.get(name)
            if i is not None and present[i] and f.reason not in reasons[i]:
                reasons[i].append(f.reason)
    flags = np.array([bool(r) for r in reasons], dtype=bool)
    return ImageReview(
        names, present, flags, [SEP.join(r) for r in reasons], pw, pp, list(findings)
    )


def measurement_landmarks(side: str, key: str) -> tuple[str, ...]:
    """The landmarks a per-leg measurement of :func:`apn_core.measurements.alignment` uses."""
    h, k, a = f"femur_{side}", f"knee_{side}", f"ankle_{side}"
    return {
        "hka_deg": (h, k, a),
        "mad_mm": (h, k, a),
        "length_mm": (h, a),
        "femur_mm": (h, k),
        "tibia_mm": (k, a),
    }[key]


LLD_LANDMARKS = ("femur_right", "ankle_right", "femur_left", "ankle_left")


def unreliable_measurements(alignment: dict, review: ImageReview) -> dict[str, str]:
    """``{"right.hka_deg": reason, ..., "lld_mm": reason}`` for every measurement of an
    :func:`~apn_core.measurements.alignment` dict that uses a flagged or absent landmark."""
    present = review.present
    index = {n: i for i, n in enumerate(review.names)}

    def why(used: Sequence[str]) -> str:
        out = []
        for name in used:
            i = index.get(name)
            if i is None or not present[i]:
                out.append(f"{name} absent")
            elif review.needs_review[i]:
                out.append(f"{name} needs review")
        return ", ".join(out)

    result = {}
    for side in ("right", "left"):
        if not isinstance(alignment.get(side), dict):
            continue
        for key in LEG_KEYS:
            if key in alignment[side] and (reason := why(measurement_landmarks(side, key))):
                result[f"{side}.{key}"] = reason
    if "lld_mm" in alignment and (reason := why(LLD_LANDMARKS)):
        result["lld_mm"] = reason
    return result


def blank_measurements(alignment: dict, review: ImageReview) -> tuple[dict, dict[str, str]]:
    """A copy of ``alignment`` with unreliable or non-finite values set to None, and the
    reasons (``{"right.hka_deg": "knee_right needs review"}``). Never returns NaN."""
    reasons = unreliable_measurements(alignment, review)
    out: dict = {}
    for key, value in alignment.items():
        if isinstance(value, dict):
            out[key] = {k: _blank(v, f"{key}.{k}" in reasons) for k, v in value.items()}
        else:
            out[key] = _blank(value, key in reasons)
    return out, reasons


def _blank(value, unreliable: bool):
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return None if unreliable or not math.isfinite(value) else float(value)


def review_landmarks(
    xy: np.ndarray,
    present: np.ndarray,
    spacing: tuple[float, float] | None,
    landmarks=None,
    features=None,
    calibrator=None,
    ranges=None,
) -> ImageReview:
    """The whole review of one image from arrays: calibrated probabilities (when a
    ``calibrator`` and the image's ``features`` — a LandmarkFeatures of batch size 1 or an
    ``(K, n_features)`` table — are given) plus the plausibility checks.

    xy: ``(K, 2)`` image (x, y) px, NaN where absent; spacing (row_mm, col_mm) or None.
    """
    from apn_core.inference.plausibility import Ranges, check_plausibility
    from apn_core.landmarks import DEFAULT_LANDMARKS

    landmarks = landmarks or DEFAULT_LANDMARKS
    k = len(landmarks)
    pw = pp = None
    threshold = presence_threshold = None
    if calibrator is not None and features is not None:
        pw = np.asarray(calibrator.probability(features), dtype=np.float64).reshape(k)
        pp = np.asarray(calibrator.presence_probability(features), dtype=np.float64).reshape(k)
        threshold, presence_threshold = calibrator.threshold, calibrator.presence_threshold
    findings = check_plausibility(xy, present, spacing, landmarks, ranges or Ranges())
    return review_image(landmarks.names, present, pw, threshold, pp, presence_threshold, findings)
