"""The thread count of an interactive prediction: the cores idle now (issue 13, item 5)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from apn_core.inference import threads


def test_busy_cores_counts_the_runnable_tasks_of_others(tmp_path):
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("0.50 0.40 0.30 3/215 9999\n")  # 3 runnable: us and 2 others
    assert threads.busy_cores(samples=3, loadavg=loadavg) == 2.0
    loadavg.write_text("0.50 0.40 0.30 1/215 9999\n")
    assert threads.busy_cores(samples=1, loadavg=loadavg) == 0.0


@pytest.mark.parametrize(
    ("cores", "busy", "expected"), [(2, 0, 2), (2, 1, 1), (2, 3, 1), (16, 5, 11)]
)
def test_inference_threads_uses_the_idle_cores(monkeypatch, cores, busy, expected):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: cores)
    monkeypatch.setattr(threads, "busy_cores", lambda: float(busy))
    assert threads.inference_threads() == expected
    assert threads.inference_threads(limit=1) == 1


def test_an_explicit_omp_num_threads_is_kept(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setattr(threads, "busy_cores", lambda: 99.0)
    assert threads.inference_threads() == 3


def test_torch_threads_restores_the_pool_size():
    import torch

    before = torch.get_num_threads()
    with threads.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.skipif(not Path("/proc/loadavg").exists(), reason="Linux /proc only")
def test_a_busy_loop_beside_is_seen():
    loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert threads.busy_cores() >= 1
    finally:
        loop.kill()
        loop.wait()


def test_apn_predict_runs_the_network_on_the_idle_cores(tiny_run, tmp_path, monkeypatch):
    """The batch job (apn predict, napari's Batch widget) sizes torch's pool like Detect
    does, and gives the process its setting back afterwards."""
    import torch

    from apn_core.inference import jobs
    from apn_core.inference.predictor import Predictor

    data, run = tiny_run
    seen = []
    forward = Predictor.forward
    monkeypatch.setattr(threads, "inference_threads", lambda limit=None: 1)
    monkeypatch.setattr(
        Predictor,
        "forward",
        lambda self, b: seen.append(torch.get_num_threads()) or forward(self, b),
    )
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        jobs.run_predict_job([data], tmp_path / "out", model=str(run), workers=0)
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
