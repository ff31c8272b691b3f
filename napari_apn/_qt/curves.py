"""Live training curves (heatmap loss; validation MRE and PCK@10) on a matplotlib canvas."""

from __future__ import annotations


class Curves:
    """Live training curves on a small matplotlib canvas."""

    def __init__(self) -> None:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(4, 2.4))
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.loss_ax = self.figure.add_subplot(121)
        self.val_ax = self.figure.add_subplot(122)
        self.records: list[dict] = []

    def set(self, records: list[dict]) -> None:
        self.records = list(records)
        self.draw()

    def add(self, record: dict) -> None:
        self.records.append(record)
        self.draw()

    def draw(self) -> None:
        epochs = [r["epoch"] for r in self.records]
        self.loss_ax.clear()
        self.val_ax.clear()
        if epochs:
            nan = float("nan")
            self.loss_ax.semilogy(epochs, [r.get("loss_mse", nan) for r in self.records])
            mre = [r.get("val_mre", nan) for r in self.records]
            pck = [10 * r.get("val_pck@10", nan) for r in self.records]
            self.val_ax.plot(epochs, mre, label="MRE mm")
            self.val_ax.plot(epochs, pck, label="PCK@10 ×10")
            self.val_ax.legend(fontsize=6)
        self.loss_ax.set_title("heatmap loss", fontsize=8)
        self.val_ax.set_title("validation", fontsize=8)
        self.figure.tight_layout()
        self.canvas.draw_idle()
