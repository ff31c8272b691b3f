"""The ``apn evaluate`` report: ``evaluation.json``, ``errors.csv`` and ``error_cdf.png``.

Missing values are ``null`` in JSON and empty cells in CSV, never ``NaN`` (which JSON does
not have). The error CDF uses a logarithmic millimetre axis spanning the errors that
occurred and the PCK thresholds, so sub-millimetre and 20 mm errors are both visible.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from apn_core.utils.atomic import atomic_path, write_text_atomic
from apn_core.utils.csv_cells import csv_text
from apn_core.utils.json_safe import json_safe


def _cell(value) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:.3f}" if math.isfinite(value) else ""
    if value is None:
        return ""
    return str(value)


def write_report(out: Path, metrics: dict, rows: list[dict], thresholds=(10.0, 20.0)) -> list[Path]:
    """Write the three report files into ``out`` (atomically); return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(
        out / "evaluation.json", json.dumps(json_safe(metrics), indent=2, allow_nan=False)
    )
    columns = list(rows[0]) if rows else ["image"]
    table = [columns, *([_cell(r.get(c)) for c in columns] for r in rows)]
    write_text_atomic(out / "errors.csv", csv_text(table))
    cdf_plot(out / "error_cdf.png", rows, thresholds)
    return [out / "evaluation.json", out / "errors.csv", out / "error_cdf.png"]


def cdf_axis(errors: np.ndarray, thresholds) -> tuple[float, float]:
    """Log-axis limits (mm): from a round value (1, 2 or 5 × 10^k) below the smallest error
    to beyond the largest error and the largest threshold."""
    positive = errors[np.isfinite(errors) & (errors > 0)]
    low = _round_down(positive.min() / 1.2) if positive.size else 0.1
    high = max([*thresholds, float(positive.max()) if positive.size else 1.0]) * 1.3
    return min(low, 0.1 * max(thresholds, default=1.0)), high


def _round_down(value: float) -> float:
    """The largest 1, 2 or 5 × 10^k not above ``value``."""
    decade = 10.0 ** math.floor(math.log10(value))
    return max(m * decade for m in (1, 2, 5) if m * decade <= value * (1 + 1e-9))


def cdf_plot(path: Path, rows: list[dict], thresholds) -> None:
    """Cumulative share of landmarks within each radial error: all, occluded, per landmark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    def finite(values):
        return np.sort(np.array([v for v in values if v is not None and np.isfinite(v)], float))

    groups = {
        "all": finite(r["error_mm"] for r in rows),
        "occluded": finite(r["error_mm"] for r in rows if r.get("occluded")),
    }
    for landmark in dict.fromkeys(r["landmark"] for r in rows):
        groups[landmark] = finite(r["error_mm"] for r in rows if r["landmark"] == landmark)
    low, high = cdf_axis(groups["all"], thresholds)

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    drawn = [name for name, e in groups.items() if e.size]
    for name, e in groups.items():
        if e.size:
            style = {"lw": 2.5, "color": "k"} if name == "all" else {"lw": 1.2}
            x = np.concatenate([[low], np.clip(e, low, None)])
            y = np.concatenate([[0.0], np.arange(1, e.size + 1) / e.size * 100])
            ax.step(x, y, where="post", label=f"{name} (n={e.size})", **style)
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_ylim(0, 101)
    ax.set_xlabel("radial error (mm, log scale)")
    ax.set_ylabel("% of landmarks within")
    for t in thresholds:
        ax.axvline(t, color="grey", ls="--", lw=0.8)
        ax.annotate(
            f"{t:g} mm", (t, 2), xytext=(3, 0), textcoords="offset points", fontsize=7, color="grey"
        )
    if drawn:  # the threshold lines carry no labels: a legend of them alone would be empty
        ax.legend(fontsize=7, loc="upper left")
    else:
        ax.text(0.5, 0.5, "no errors to show", transform=ax.transAxes, ha="center")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
