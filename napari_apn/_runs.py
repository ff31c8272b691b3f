"""Run folders this napari session knows about (trained here, or found under ./runs)."""

from __future__ import annotations

from pathlib import Path

_REMEMBERED: list[str] = []


def remember(run: str | Path) -> None:
    run = str(Path(run).resolve())
    if run in _REMEMBERED:
        _REMEMBERED.remove(run)
    _REMEMBERED.insert(0, run)


def recent_runs(root: Path | None = None) -> list[str]:
    """Runs trained in this session first, then run folders under ``./runs`` (newest first)."""
    root = root or Path.cwd() / "runs"
    from apn_core.runs import is_run

    found = [p for p in root.glob("*") if is_run(p)] if root.is_dir() else []
    ordered = [
        *_REMEMBERED,
        *(str(p.resolve()) for p in sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)),
    ]
    return list(dict.fromkeys(r for r in ordered if is_run(r)))
