"""What several hostile-input test modules share: ``apn`` run in-process, and an untrained
``tiny`` run folder (these tests are about files and numbers, and it is fast)."""

from __future__ import annotations

from pathlib import Path

from apn_core.cli.main import main


def run_apn(capsys, *argv) -> tuple[int, str, str]:
    """``apn ARGV`` in-process → (exit code, stdout, stderr); an argparse exit is a code."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def make_tiny_run(folder: Path) -> Path:
    """An untrained ``tiny`` run in ``folder/run`` (fixed seed)."""
    import torch

    from apn_core import runs
    from apn_core.models import build_networks
    from apn_core.presets import get_preset

    run = folder / "run"
    run.mkdir()
    runs.save_config(run, get_preset("tiny"))
    torch.manual_seed(0)
    runs.save_checkpoint(run, "best", build_networks(get_preset("tiny")).state_dict(), {})
    return run
