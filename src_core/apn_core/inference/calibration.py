"""One calibrated probability per landmark that it lies within the tolerance (10 mm).

**Meaning.** ``p_within = 0.9`` means: of the landmarks of the calibration data that got
this probability, 9 in 10 were within ``tolerance_mm`` of the truth. It is a frequency on
the data the calibrator was fitted on, not a guarantee for a new kind of image.

**Model.** The features of :mod:`apn_core.inference.confidence`, each through a fixed
transform (``log`` for mm, ``logit`` for discriminator outputs), standardised, into an
L2-regularised logistic regression (``scipy.optimize``) — a *score* that orders landmarks
from likely wrong to likely right — followed, with ``method="isotonic"``, by isotonic
regression of the labels on the score (``scipy.optimize.isotonic_regression``) so the
probabilities match observed frequencies. The map score → probability is non-decreasing
by construction (piecewise linear between the isotonic blocks).

**Missing features.** Features that are missing for the whole calibration set (``p`` when
the model has no pose discriminator) are left out. Features that can be missing for single
images at inference (``flip_mm`` without a flip test, the mm features without a pixel
spacing) get fallback models fitted without them; each row is scored by the first model
whose features it has.

**Presence.** A second model gives ``p_present``, the probability that a landmark is in
the image at all, from ``peak``, ``c``, ``p`` and ``image_peak`` — for landmarks the model
reported absent (``image_peak`` tells a cropped view, where the rest of the image is
clear, from an image the model cannot read at all).

**Review thresholds.** A present landmark needs review when ``p_within ≤ threshold``; the
threshold is the larger of (a) the smallest probability that flags ≥ ``recall_target``
(95 %) of the landmarks beyond the tolerance on the calibration data and (b) the largest
that flags ≤ ``false_flag_budget`` (3 %) of the correct ones there: (a) alone sits right
under the calibration errors and misses errors on new kinds of image that land just above
it; the small budget of (b) reaches them (measured in ``benchmarks/calibration.py``) —
but never above (c) the largest that flags ≤ ``max_false_flags`` (2 %) of the correct
ones. Where errors are hard to tell from correct landmarks (real films under heavy
perturbations), (a) alone flagged 27 % of the correct ones and left an HKA for 12 % of
the real OAI test legs; on the OAI development films the legs flagged at a 3–10 % ceiling
had HKA errors against the readers no larger than the others (0.42° vs 0.46°): false
alarms. The ceiling trades recall on the calibration data (78 % of the errors at 2 %, the
bundled model) for numbers a clinician can use; the recall reached is stored beside it.

A landmark reported absent needs review when ``p_present ≥ presence_threshold``, the
largest that flags ≥ ``recall_target`` of the present landmarks reported absent, within
the same ceiling on the truly absent ones and never below :data:`PRESENCE_FLOOR` (a flag
saying "0.02 likely in the image" says nothing).

The file (``calibration.json``) is plain JSON: numbers and names from fixed lists, nothing
that is executed; :func:`load_calibrator` refuses anything malformed with one clear error.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from apn_core import __version__, runs
from apn_core.errors import FileProblem
from apn_core.inference.confidence import FEATURES
from apn_core.inference.reliability import (
    auroc,
    budget_threshold,
    choose_threshold,
    expected_calibration_error,
    flag_rates,
)
from apn_core.utils.atomic import write_text_atomic
from apn_core.utils.files import MAX_TABLE_BYTES, read_json
from apn_core.utils.json_safe import json_safe

CALIBRATION_FILE = runs.CALIBRATION  # in a run folder, or beside a bundled model
FORMAT = "napari-apn-calibration"
VERSION = 1
METHODS = ("logistic", "isotonic")
TRANSFORMS = {  # feature → transform applied before standardisation
    "peak": "identity",
    "second_ratio": "identity",
    "spread_mm": "log",
    "flip_mm": "log1p",
    "c": "logit",
    "p": "logit",
    "image_peak": "identity",
    "image_flip_mm": "log1p",
}
PRESENCE_FEATURES = ("peak", "c", "p", "image_peak")  # image_peak: cropped view vs unreadable image
FALLBACK_DROPS = (  # no flip test; no pixel spacing
    ("flip_mm", "image_flip_mm"),
    ("flip_mm", "image_flip_mm", "spread_mm"),
)
MIN_PER_CLASS = 3  # landmarks needed on each side of the tolerance to fit at all
log = logging.getLogger(__name__)
FALSE_FLAG_BUDGET = 0.03  # share of correct calibration landmarks the review flag may take
MAX_FALSE_FLAGS = 0.02  # ... and never more than this, whatever the recall target asks
PRESENCE_FLOOR = 0.5  # "likely in the image" means more likely than not
RIDGE = 1.0  # ridge penalty (summed log-loss scale) on standardised coefficients: keeps
# separable data finite, negligible bias once there are hundreds of landmarks
ISOTONIC_PRIOR = 1.0  # pseudo-landmarks per isotonic block (at the logistic estimate)


def _transform(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if name == "identity":
        return x
    if name == "log":
        return np.log(np.maximum(x, 1e-3))
    if name == "log1p":
        return np.log1p(np.maximum(x, 0.0))
    if name == "logit":
        q = np.clip(x, 1e-4, 1 - 1e-4)
        return np.log(q / (1 - q))
    raise ValueError(f"unknown transform {name!r}")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


@dataclass
class ScoreModel:
    """Logistic score over ``features`` and its map to a probability.

    ``knots_score``/``knots_prob``: the isotonic map (linear between knots, flat beyond);
    empty = the logistic probability ``sigmoid(score)`` itself.
    """

    features: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    coef: np.ndarray
    intercept: float
    knots_score: np.ndarray = field(default_factory=lambda: np.zeros(0))
    knots_prob: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def _design(self, table: np.ndarray) -> np.ndarray:
        cols = [_transform(TRANSFORMS[f], table[:, FEATURES.index(f)]) for f in self.features]
        return (np.stack(cols, axis=1) - self.mean) / self.std

    def usable(self, table: np.ndarray) -> np.ndarray:
        """``(N,)`` bool: rows that have every feature of this model."""
        idx = [FEATURES.index(f) for f in self.features]
        return np.isfinite(table[:, idx]).all(axis=1)

    def score(self, table: np.ndarray) -> np.ndarray:
        """Logistic score (log-odds of being within tolerance) of ``(N, len(FEATURES))`` rows."""
        return self._design(table) @ self.coef + self.intercept

    def probability_of_score(self, score: np.ndarray) -> np.ndarray:
        if self.knots_score.size == 0:
            return _sigmoid(score)
        return np.interp(score, self.knots_score, self.knots_prob)

    def probability(self, table: np.ndarray) -> np.ndarray:
        return self.probability_of_score(self.score(table))

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "transforms": [TRANSFORMS[f] for f in self.features],
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "coef": self.coef.tolist(),
            "intercept": float(self.intercept),
            "isotonic": {"score": self.knots_score.tolist(), "prob": self.knots_prob.tolist()},
        }

    @classmethod
    def from_dict(cls, d: dict, where: str) -> ScoreModel:
        _need(isinstance(d, dict), f"{where} is not an object")
        features = d.get("features")
        _need(
            isinstance(features, list) and features and all(f in FEATURES for f in features),
            f"{where}.features must list names from {', '.join(FEATURES)}",
        )
        _need(len(set(features)) == len(features), f"{where}.features has duplicates")
        _need(
            d.get("transforms") == [TRANSFORMS[f] for f in features],
            f"{where}.transforms must be {[TRANSFORMS[f] for f in features]}",
        )
        n = len(features)
        mean, std, coef = (_vector(d.get(k), n, f"{where}.{k}") for k in ("mean", "std", "coef"))
        _need(bool((std > 0).all()), f"{where}.std must be positive")
        intercept = d.get("intercept")
        _need(_finite_number(intercept), f"{where}.intercept must be a finite number")
        iso = d.get("isotonic")
        _need(isinstance(iso, dict), f"{where}.isotonic must be an object")
        m = len(iso.get("score", [])) if isinstance(iso.get("score"), list) else -1
        xs = _vector(iso.get("score"), m, f"{where}.isotonic.score")
        ps = _vector(iso.get("prob"), m, f"{where}.isotonic.prob")
        _need(bool((np.diff(xs) > 0).all()), f"{where}.isotonic.score must increase")
        _need(bool((np.diff(ps) >= 0).all()), f"{where}.isotonic.prob must not decrease")
        _need(bool(((ps >= 0) & (ps <= 1)).all()), f"{where}.isotonic.prob must lie within 0-1")
        return cls(tuple(features), mean, std, coef, float(intercept), xs, ps)


@dataclass
class Calibrator:
    """Calibrated ``p_within`` and ``p_present`` for landmarks, with the review thresholds.

    models: ``p_within`` models in order of preference (the first whose features a row has).
    threshold: a present landmark needs review when ``p_within ≤ threshold``.
    presence / presence_threshold: ``p_present`` model; a reported-absent landmark needs
        review when ``p_present ≥ presence_threshold`` (None: no presence model).
    fitted_on: what it was fitted on (source, model, counts). quality: ECE, AUROC, recall
        and false-flag rate of the thresholds on its own data.
    """

    tolerance_mm: float
    models: list[ScoreModel]
    threshold: float
    method: str = "isotonic"
    presence: ScoreModel | None = None
    presence_threshold: float | None = None
    fitted_on: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        return self.models[0].features

    def probability(self, features) -> np.ndarray:
        """``p_within`` of each row: ``(N, len(FEATURES))`` table or a LandmarkFeatures
        (→ ``(B, K)``). NaN for rows no model can score."""
        table, shape = _table(features)
        out = np.full(len(table), np.nan)
        todo = np.ones(len(table), dtype=bool)
        for model in self.models:
            rows = todo & model.usable(table)
            if rows.any():
                out[rows] = model.probability(table[rows])
            todo &= ~rows
        return out.reshape(shape)

    def presence_probability(self, features) -> np.ndarray:
        """``p_present`` of each row (NaN without a presence model or its features)."""
        table, shape = _table(features)
        out = np.full(len(table), np.nan)
        if self.presence is not None:
            rows = self.presence.usable(table)
            out[rows] = self.presence.probability(table[rows])
        return out.reshape(shape)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "meaning": (
                f"p_within = probability that a landmark lies within {self.tolerance_mm:g} mm of "
                f"the truth: 0.9 = 9 in 10 such landmarks were within {self.tolerance_mm:g} mm "
                "on the calibration data"
            ),
            "tolerance_mm": self.tolerance_mm,
            "method": self.method,
            "threshold": self.threshold,
            "models": [m.to_dict() for m in self.models],
            "presence": self.presence.to_dict() if self.presence is not None else None,
            "presence_threshold": self.presence_threshold,
            "fitted_on": json_safe(self.fitted_on),
            "quality": json_safe(self.quality),
            "software_version": __version__,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Calibrator:
        """Validate and build; raises ``ValueError`` naming the first problem."""
        _need(isinstance(d, dict), "not a JSON object")
        _need(d.get("format") == FORMAT, f"not a calibration file (format is not {FORMAT!r})")
        _need(
            d.get("version") == VERSION,
            f"unsupported calibration version {d.get('version')!r} (this software reads {VERSION})",
        )
        tol = d.get("tolerance_mm")
        _need(_finite_number(tol) and tol > 0, "tolerance_mm must be a positive number")
        _need(d.get("method") in METHODS, f"method must be one of {', '.join(METHODS)}")
        thr = d.get("threshold")
        _need(_finite_number(thr) and 0 <= thr <= 1, "threshold must be a number within 0-1")
        models = d.get("models")
        _need(isinstance(models, list) and models, "models must be a non-empty list")
        parsed = [ScoreModel.from_dict(m, f"models[{i}]") for i, m in enumerate(models)]
        presence = None
        if d.get("presence") is not None:
            presence = ScoreModel.from_dict(d["presence"], "presence")
            pt = d.get("presence_threshold")
            _need(
                _finite_number(pt) and 0 <= pt <= 1,
                "presence_threshold must be a number within 0-1",
            )
        for key in ("fitted_on", "quality"):
            _need(isinstance(d.get(key, {}), dict), f"{key} must be an object")
        return cls(
            tolerance_mm=float(tol),
            models=parsed,
            threshold=float(thr),
            method=d["method"],
            presence=presence,
            presence_threshold=float(d["presence_threshold"]) if presence else None,
            fitted_on=d.get("fitted_on", {}),
            quality=d.get("quality", {}),
        )


def save_calibrator(path: str | Path, calibrator: Calibrator) -> Path:
    """Write ``calibration.json`` atomically."""
    write_text_atomic(Path(path), json.dumps(calibrator.to_dict(), indent=2, allow_nan=False))
    return Path(path)


def load_calibrator(path: str | Path) -> Calibrator:
    """Read a ``calibration.json``; :class:`FileProblem` naming the problem if unusable."""
    path = Path(path)
    data = read_json(path, "calibration file", MAX_TABLE_BYTES)
    try:
        return Calibrator.from_dict(data)
    except ValueError as exc:
        raise FileProblem(path, f"invalid calibration file: {exc}") from None


def check_fitted_on(calibrator: Calibrator, path: Path, source, given: bool) -> None:
    """Refuse a calibration fitted on other weights than ``source``'s (a
    :class:`~apn_core.inference.model_store.ModelSource`): its probabilities and review
    threshold describe that model, not this one. Calibrations record the SHA-256 of the
    weights they were fitted on (``fitted_on.weights_sha256``); one from an older
    napari-apn that records none, given with ``--calibration``, is used with a warning."""
    from apn_core.inference.model_store import sha256

    recorded = calibrator.fitted_on.get("weights_sha256")
    if isinstance(recorded, str) and recorded:
        digest = sha256(source.weights)
        if recorded != digest:
            raise FileProblem(
                path,
                f"was fitted on other weights (SHA-256 {recorded[:12]}…) than the model "
                f"{source.name} (SHA-256 {digest[:12]}…): its probabilities and review "
                f"threshold describe that model; fit one for this model with "
                f"apn calibrate DATA --model {source.name.removeprefix('bundled:')}",
            )
        return
    name = calibrator.fitted_on.get("model")
    if given and name != source.name:
        fitted = f" (fitted on {name})" if isinstance(name, str) and name else ""
        log.warning(
            "%s: records no checksum of the weights it was fitted on%s, so it cannot be "
            "verified to belong to the model %s; refit it with apn calibrate",
            path,
            fitted,
            source.name,
        )


def _need(ok: bool, problem: str) -> None:
    if not ok:
        raise ValueError(problem)


def _finite_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _vector(values, n: int, where: str) -> np.ndarray:
    _need(
        isinstance(values, list) and len(values) == n and all(_finite_number(v) for v in values),
        f"{where} must be a list of {n} finite numbers",
    )
    return np.asarray(values, dtype=np.float64)


def _table(features) -> tuple[np.ndarray, tuple[int, ...]]:
    if hasattr(features, "table"):
        return features.table(), features.peak.shape
    table = np.asarray(features, dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != len(FEATURES):
        raise ValueError(
            f"feature table must be (N, {len(FEATURES)}) in {FEATURES} order, got {table.shape}"
        )
    return table, (len(table),)


# ---------------------------------------------------------------- fitting


@dataclass
class CalibrationData:
    """Labelled landmarks for fitting/evaluating: one row per *annotated* landmark.

    features: ``(N, len(FEATURES))``. reported_present / truly_present: ``(N,)`` bool.
    error_mm: ``(N,)`` radial error where both are present, else NaN. image: ``(N,)`` str
    (to split by image). landmark: ``(N,)`` str.
    """

    features: np.ndarray
    reported_present: np.ndarray
    truly_present: np.ndarray
    error_mm: np.ndarray
    image: np.ndarray
    landmark: np.ndarray

    def __len__(self) -> int:
        return len(self.features)

    def within(self, tolerance_mm: float) -> np.ndarray:
        """``(N,)`` bool: truly present, reported present, and within the tolerance."""
        err = np.where(np.isfinite(self.error_mm), self.error_mm, np.inf)
        return self.truly_present & self.reported_present & (err <= tolerance_mm)

    def subset(self, rows: np.ndarray) -> CalibrationData:
        return CalibrationData(
            *(
                getattr(self, f)[rows]
                for f in (
                    "features",
                    "reported_present",
                    "truly_present",
                    "error_mm",
                    "image",
                    "landmark",
                )
            )
        )

    @classmethod
    def concat(cls, parts: list[CalibrationData]) -> CalibrationData:
        names = ("features", "reported_present", "truly_present", "error_mm", "image", "landmark")
        return cls(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))


def fit_calibrator(
    data: CalibrationData,
    tolerance_mm: float = 10.0,
    method: str = "isotonic",
    recall_target: float = 0.95,
    fitted_on: dict | None = None,
    false_flag_budget: float = FALSE_FLAG_BUDGET,
    max_false_flags: float = MAX_FALSE_FLAGS,
) -> Calibrator:
    """Fit ``p_within`` (on reported-present landmarks) and ``p_present`` (on all); the
    review thresholds as the module docstring says.

    Raises ``ValueError`` when there are fewer than :data:`MIN_PER_CLASS` landmarks on
    either side of the tolerance (nothing to learn an error probability from).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; use {' or '.join(METHODS)}")
    rows = data.reported_present
    table, y = data.features[rows], data.within(tolerance_mm)[rows]
    n_wrong, n_right = int((~y).sum()), int(y.sum())
    if min(n_wrong, n_right) < MIN_PER_CLASS:
        raise ValueError(
            f"{n_wrong} of {len(y)} reported landmarks are beyond {tolerance_mm:g} mm and {n_right} "
            f"within: need at least {MIN_PER_CLASS} of each to calibrate: "
            + (
                "the model makes too few errors here to learn what one looks like; add "
                "perturbed copies of the images (apn calibrate --perturb standard; the "
                "bundled model's calibration was fitted so) or harder images"
                if n_wrong < MIN_PER_CLASS
                else "add images the model gets right"
            )
        )
    available = [f for f in FEATURES if np.isfinite(table[:, FEATURES.index(f)]).any()]
    subsets = [tuple(available)]
    for drop in FALLBACK_DROPS:
        reduced = tuple(f for f in available if f not in drop)
        if reduced and reduced not in subsets:
            subsets.append(reduced)
    models = [_fit_model(table, y, feats, method) for feats in subsets]
    cal = Calibrator(tolerance_mm=float(tolerance_mm), models=models, threshold=0.0, method=method)
    prob = cal.probability(table)
    t_recall = choose_threshold(prob, ~y, recall_target)[0]
    reach = max(t_recall, budget_threshold(prob, ~y, false_flag_budget))
    cal.threshold = min(reach, budget_threshold(prob, ~y, max_false_flags))
    recall, false_rate = flag_rates(prob, ~y, cal.threshold)
    cal.quality = {
        "n": len(y),
        "n_beyond_tolerance": n_wrong,
        "ece": expected_calibration_error(prob, y),
        "auroc_error": auroc(-prob, ~y),
        "recall": recall,
        "false_flag_rate": false_rate,
        "recall_target": recall_target,
        "threshold_for_recall_target": t_recall,
        "false_flag_budget": false_flag_budget,
        "max_false_flags": max_false_flags,
    }
    _fit_presence(cal, data, recall_target, max_false_flags)
    cal.fitted_on = {
        "images": len(set(data.image.tolist())),
        "landmarks": len(data),
        "reported_present": len(y),
        "beyond_tolerance": n_wrong,
        **(fitted_on or {}),
    }
    return cal


def _fit_presence(
    cal: Calibrator, data: CalibrationData, recall_target: float, max_false_flags: float
) -> None:
    """``p_present`` on every annotated landmark, if both present and absent ones exist."""
    truth = data.truly_present
    feats = tuple(
        f for f in PRESENCE_FEATURES if np.isfinite(data.features[:, FEATURES.index(f)]).any()
    )
    if min(int(truth.sum()), int((~truth).sum())) < MIN_PER_CLASS or not feats:
        cal.quality["presence"] = {"fitted": False, "absent": int((~truth).sum())}
        return
    cal.presence = _fit_model(data.features, truth, feats, cal.method)
    prob = cal.presence.probability(data.features)
    reported_absent = ~data.reported_present
    missed = reported_absent & truth  # present landmarks the model reported absent
    if missed.any():
        # flag a reported-absent landmark when p_present ≥ t: the largest t flagging ≥ target
        score, missed_here = -prob[reported_absent], truth[reported_absent]
        t = choose_threshold(score, missed_here, recall_target)[0]
        t = min(t, budget_threshold(score, missed_here, max_false_flags), -PRESENCE_FLOOR)
        cal.presence_threshold = float(-t)
        recall, false_rate = flag_rates(score, missed_here, t)
    else:
        cal.presence_threshold, recall, false_rate = 0.5, float("nan"), float("nan")
    cal.quality["presence"] = {
        "fitted": True,
        "absent": int((~truth).sum()),
        "present_reported_absent": int(missed.sum()),
        "auroc_present": auroc(prob, truth),
        "ece": expected_calibration_error(prob, truth),
        "recall": _nan_none(recall),
        "false_flag_rate": _nan_none(false_rate),
    }


def _nan_none(x: float) -> float | None:
    return None if not math.isfinite(x) else float(x)


def _fit_model(
    table: np.ndarray, y: np.ndarray, features: tuple[str, ...], method: str
) -> ScoreModel:
    """Logistic regression on the transformed, standardised ``features`` (+ isotonic map)."""
    from scipy.optimize import minimize

    idx = [FEATURES.index(f) for f in features]
    rows = np.isfinite(table[:, idx]).all(axis=1)
    cols = [_transform(TRANSFORMS[f], table[rows, FEATURES.index(f)]) for f in features]
    x = np.stack(cols, axis=1)
    target = y[rows].astype(np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    z = (x - mean) / std
    n = len(z)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        s = z @ w + b
        # mean log-loss, stable form: log(1 + e^s) − y·s
        value = np.mean(np.logaddexp(0.0, s) - target * s) + 0.5 * RIDGE / n * w @ w
        g = _sigmoid(s) - target
        return value, np.append(z.T @ g / n + RIDGE / n * w, g.mean())

    prior = np.clip(target.mean(), 1e-3, 1 - 1e-3)
    start = np.append(np.zeros(z.shape[1]), math.log(prior / (1 - prior)))
    res = minimize(loss, start, jac=True, method="L-BFGS-B")
    model = ScoreModel(tuple(features), mean, std, res.x[:-1].copy(), float(res.x[-1]))
    if method == "isotonic":
        model.knots_score, model.knots_prob = _isotonic_knots(
            z @ model.coef + model.intercept, target
        )
    return model


def _isotonic_knots(score: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Isotonic regression of ``y`` on ``score`` → knots (block mean score, probability).

    Each block is shrunk toward the logistic estimate by :data:`ISOTONIC_PRIOR`
    pseudo-landmarks (a block of 4 correct landmarks is not "certain"), then made
    monotone again.
    """
    from scipy.optimize import isotonic_regression

    order = np.argsort(score, kind="stable")
    s, t = score[order], y[order]
    uniq, start = np.unique(s, return_index=True)  # merge tied scores first
    counts = np.diff(np.append(start, len(s)))
    means = np.add.reduceat(t, start) / counts
    fitted = isotonic_regression(means, weights=counts.astype(np.float64), increasing=True).x
    knots_x, knots_p, knots_w = [], [], []
    i = 0
    while i < len(uniq):
        j = i
        while j + 1 < len(uniq) and fitted[j + 1] == fitted[i]:
            j += 1
        w = counts[i : j + 1].sum()
        x = float(np.average(uniq[i : j + 1], weights=counts[i : j + 1]))
        prior = float(np.average(_sigmoid(uniq[i : j + 1]), weights=counts[i : j + 1]))
        knots_x.append(x)
        knots_p.append((fitted[i] * w + ISOTONIC_PRIOR * prior) / (w + ISOTONIC_PRIOR))
        knots_w.append(w + ISOTONIC_PRIOR)
        i = j + 1
    p = isotonic_regression(np.array(knots_p), weights=np.array(knots_w), increasing=True).x
    return np.array(knots_x), np.clip(p, 0.0, 1.0)
