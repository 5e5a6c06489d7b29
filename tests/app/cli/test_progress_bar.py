"""`fitboard run`'s progress bar in a real terminal (a pseudo-terminal: tqdm draws only on one)."""

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from app.db import Store
from tests.fixtures.processes import ROOT, fitboard_env


def _run_in_a_terminal(*args: str, env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """Run `python -m app.cli ARGS` with a 120-column pseudo-terminal as stdout and stderr;
    returns its status and everything it wrote (bar frames included)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args], stdout=slave, stderr=slave, env=env, cwd=ROOT
    )
    os.close(slave)
    output, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=30), output.decode()
    finally:
        os.close(master)


@pytest.mark.slow
def test_the_bar_ends_at_100_percent_with_the_last_loss_before_the_final_line(tmp_path: Path):
    data_dir = tmp_path / "data"
    env = fitboard_env(f"sqlite:///{data_dir / 'fitboard.db'}")
    # 23 batches an epoch, fewer than an epoch curve's 100 points: its last is the last batch.
    args = ("run", "mlp", "--set", "epochs=3", "--set", "dataset=digits", "--set", "bs=64")
    status, output = _run_in_a_terminal(*args, "--data-dir", str(data_dir), env=env)
    assert status == 0, output

    store = Store(create_engine(f"sqlite:///{data_dir / 'fitboard.db'}"))
    (row,), _ = store.list_runs()
    epochs, _ = store.metric_events(row.id)
    last_loss = f"loss={epochs[-1]['batches']['loss'][-1]:.4f}"

    final = f"run {row.id} completed"
    before, _, after = output.partition(final)
    assert after.strip() == "", "nothing of the bar is drawn after the final line"
    frames = [frame for frame in before.replace("\n", "\r").split("\r") if "%|" in frame]
    assert "100%" in frames[-1] and "3/3" in frames[-1], frames[-1]
    assert last_loss in frames[-1], (last_loss, frames[-1])
    # The bar is closed (its line ended) before the final line starts.
    assert before.rstrip(" ").endswith("\r\n"), repr(before[-200:])
