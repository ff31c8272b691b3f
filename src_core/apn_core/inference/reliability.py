"""How well a probability separates and matches outcomes: AUROC, reliability bins and
expected calibration error, and the review thresholds with their recall and false-flag
rate. Pure numpy functions of ``(N,)`` arrays (NaN probabilities are skipped where said).
"""

from __future__ import annotations

import math

import numpy as np

ECE_BINS = 10


def choose_threshold(
    prob: np.ndarray, wrong: np.ndarray, recall_target: float = 0.95
) -> tuple[float, float, float]:
    """Smallest ``t`` such that flagging ``prob ≤ t`` catches ≥ ``recall_target`` of the
    ``wrong`` rows: ``(t, recall, false-flag rate)`` measured on these rows."""
    prob, wrong = np.asarray(prob, float), np.asarray(wrong, bool)
    if not wrong.any():
        return 0.0, float("nan"), 0.0
    e = np.sort(prob[wrong])
    t = float(e[max(0, math.ceil(recall_target * len(e)) - 1)])
    return t, *flag_rates(prob, wrong, t)


def budget_threshold(prob: np.ndarray, wrong: np.ndarray, budget: float) -> float:
    """Largest observed probability ``t`` such that flagging ``prob ≤ t`` takes at most
    ``budget`` of the correct (not ``wrong``) rows; 0 when none qualifies."""
    prob, wrong = np.asarray(prob, float), np.asarray(wrong, bool)
    right = np.sort(prob[~wrong])
    k = math.floor(budget * right.size)  # this many correct rows may be flagged
    if k >= right.size:
        return float(prob.max()) if prob.size else 0.0
    below = prob[prob < right[k]]  # t must stay under the (k+1)-th smallest correct one
    return float(below.max()) if below.size else 0.0


def flag_rates(prob: np.ndarray, wrong: np.ndarray, threshold: float) -> tuple[float, float]:
    """(share of ``wrong`` rows with ``prob ≤ threshold``, share of the others flagged)."""
    flagged = np.asarray(prob) <= threshold
    wrong = np.asarray(wrong, bool)
    recall = float(flagged[wrong].mean()) if wrong.any() else float("nan")
    false_rate = float(flagged[~wrong].mean()) if (~wrong).any() else float("nan")
    return recall, false_rate


def auroc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for ``positive`` (ties count half); NaN if one class."""
    from scipy.stats import rankdata

    score, positive = np.asarray(score, float), np.asarray(positive, bool)
    keep = np.isfinite(score)
    score, positive = score[keep], positive[keep]
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def reliability(prob: np.ndarray, outcome: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Equal-width bins of ``prob``: count, mean probability and observed frequency."""
    prob, outcome = np.asarray(prob, float), np.asarray(outcome, bool)
    keep = np.isfinite(prob)
    prob, outcome = prob[keep], outcome[keep]
    which = np.minimum((prob * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        sel = which == b
        if sel.any():
            out.append(
                {
                    "low": b / bins,
                    "high": (b + 1) / bins,
                    "n": int(sel.sum()),
                    "mean_prob": float(prob[sel].mean()),
                    "frequency": float(outcome[sel].mean()),
                }
            )
    return out


def expected_calibration_error(
    prob: np.ndarray, outcome: np.ndarray, bins: int = ECE_BINS
) -> float:
    """Σ_bins (n_b / N) · |frequency_b − mean probability_b| (equal-width bins)."""
    rows = reliability(prob, outcome, bins)
    n = sum(r["n"] for r in rows)
    if n == 0:
        return float("nan")
    return float(sum(r["n"] / n * abs(r["frequency"] - r["mean_prob"]) for r in rows))
