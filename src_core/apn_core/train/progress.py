"""Progress of a training job: a tqdm bar for people, JSON lines for programs.

With ``json_lines`` every event is one line on stdout, e.g.::

    {"event": "step", "phase": "pretrain", "epoch": 3, "epochs": 60, "step": 12, "steps": 40, "global_step": 92, "loss": 0.0123}
    {"event": "epoch", "epoch": 3, "val_mre": 7.1, "val_pck@10": 0.84, ...}
    {"event": "stopped", "reason": "SIGTERM", "checkpoint": "RUN/last.safetensors", ...}
    {"event": "error", "message": "RUN: already holds a run; pass --resume ..."}

With JSON lines, stdout carries nothing but these lines (messages for people go to
stderr). The napari Train widget runs ``apn train --progress json`` and follows them.
"""

from __future__ import annotations

import json
import sys

from apn_core.utils.json_safe import json_safe


class Progress:
    def __init__(self, json_lines: bool = False, enabled: bool = True) -> None:
        self.json_lines, self.enabled = json_lines, enabled
        self._bar = None

    def event(self, name: str, **fields) -> None:
        """One JSON line on stdout (strict JSON: NaN and infinities become null)."""
        if self.enabled and self.json_lines:
            sys.stdout.write(json.dumps(json_safe({"event": name, **fields})) + "\n")
            sys.stdout.flush()

    def start(self, total: int, initial: int) -> None:
        if self.enabled and not self.json_lines:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, initial=initial, unit="step", disable=None, dynamic_ncols=True
            )

    def advance(self, steps: int = 1) -> None:
        """The bar moves on by ``steps`` (every step; reads nothing from the GPU)."""
        if self._bar is not None:
            self._bar.update(steps)

    def step(self, **fields) -> None:
        """A ``step`` event: every step on a CPU; on a GPU at most about once a second, its
        ``loss`` the mean over the steps read back last (up to 25). ``global_step``: the
        steps done in the whole run (a follower sets its progress from it)."""
        if self._bar is not None:
            self._bar.set_postfix(
                {k: v for k, v in fields.items() if k in ("phase", "epoch", "loss")}, refresh=False
            )
        self.event("step", **fields)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
