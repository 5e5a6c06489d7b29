"""Where a run's checkpoints are: the newest `*.pt` a callback wrote in the run's directory."""

from __future__ import annotations

from pathlib import Path

__all__ = ["latest_checkpoint"]


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint in `run_dir` (written at epoch ends), or None."""
    if not run_dir.is_dir():
        return None
    files = sorted(run_dir.glob("*.pt"), key=lambda path: path.stat().st_mtime)
    return files[-1] if files else None
