"""Plot a run's training curves (losses, validation MRE and PCK) from its log.jsonl.

python scripts/plot_training.py RUN docs/images/training_curve.png
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from apn_core.runs import read_log

log = logging.getLogger("plot_training")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    records = read_log(args.run)
    if not records:
        parser.error(f"{args.run}: no log.jsonl records")
    epochs = [r["epoch"] for r in records]
    adv_start = next((r["epoch"] for r in records if r["phase"] == "adversarial"), None)
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.6))
    ax1.semilogy(epochs, [r["loss_mse"] for r in records], label="heatmap loss (train)")
    adv = [r for r in records if "loss_d_pose" in r]
    if adv:
        ax1b = ax1.twinx()
        ax1b.plot(
            [r["epoch"] for r in adv], [r["loss_d_pose"] for r in adv], "C1", label="L_P (pose D)"
        )
        ax1b.plot(
            [r["epoch"] for r in adv],
            [r["loss_d_confidence"] for r in adv],
            "C2",
            label="L_C (confidence D)",
        )
        ax1b.set_ylabel("discriminator loss")
        ax1b.legend(loc="upper right", fontsize=8)
    ax1.set_title("losses")
    ax1.legend(loc="upper left", fontsize=8)
    validated = [r for r in records if "val_mre" in r]  # validated epochs that scored any
    val_epochs = [r["epoch"] for r in validated]
    ax2.plot(val_epochs, [r["val_mre"] for r in validated], label="MRE")
    ax2.plot(val_epochs, [r["val_median"] for r in validated], label="median")
    late = [r["val_mre"] for r in validated[len(validated) // 4 :]]
    ax2.set_ylim(0, min(40, max(late, default=0) * 1.5 + 1))
    ax2.set_ylabel("mm")
    ax2.set_title("validation radial error")
    ax2.legend(fontsize=8)
    ax3.plot(val_epochs, [100 * r["val_pck@10"] for r in validated], label="PCK@10 mm")
    ax3.plot(val_epochs, [100 * r["val_pck@20"] for r in validated], label="PCK@20 mm")
    ax3.set_ylim(0, 101)
    ax3.set_ylabel("% of landmarks")
    ax3.set_title("validation PCK (of landmarks reported)")
    ax3.legend(fontsize=8, loc="lower right")
    for ax in (ax1, ax2, ax3):
        ax.set_xlabel("epoch")
        if adv_start:
            ax.axvline(adv_start - 0.5, color="grey", ls="--", lw=0.8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    logging.basicConfig(level=logging.INFO)
    log.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
