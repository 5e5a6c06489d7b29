"""`fitboard run --server URL` and `fitboard sync`: a terminal run reported to a dashboard.

With a server, `fitboard run` does not write the database: it trains the recipe here, in
this process, with a `trainer.DashboardCallback`, so the run is live in the browser and the
dashboard's Stop (or attach, or a hyperparameter edit) reaches this loop at its next batch.
The request is checked exactly as the server checks one (`RequestValidator`).
"""

from __future__ import annotations

import contextlib
import signal
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from app.catalog import CallbackContext, callback_catalog, recipe_registry
from app.config import Settings
from app.live.messages import StopSource
from app.runs.requests import RequestValidator
from trainer import AvgStatsCallback, Callback, DashboardCallback, Runner, set_threads
from trainer.reporting.client import upload_spool

__all__ = ["sync_spools", "train_reporting"]


class _EpochLines(Callback):
    """One line per epoch in the terminal (after the stats are in)."""

    _order = 50

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def after_epoch(self) -> None:
        stats = self.run.epoch_stats
        shown = "  ".join(
            f"{phase}_{name} {value:.4f}"
            for phase in ("train", "valid")
            for name, value in stats.get(phase, {}).items()
            if isinstance(value, float)
        )
        print(f"epoch {self.run.epoch + 1}/{self.run.epochs}  {shown}", file=self.out, flush=True)


def train_reporting(
    settings: Settings,
    url: str,
    recipe: str,
    params: dict[str, Any],
    callbacks: list[tuple[str, dict[str, Any]]],
    name: str | None,
    out: TextIO,
) -> str:
    """Train the recipe here, reporting to the dashboard at `url`; the run's final status.
    Raises InvalidRequest for a request the server would refuse."""
    request = RequestValidator(recipe_registry, callback_catalog, settings.datasets_dir).run(
        recipe, params, callbacks, name
    )
    token = settings.token.get_secret_value() if settings.token else None
    dashboard = DashboardCallback(
        url, token=token, name=request.name or recipe, params=request.params_json()
    )
    set_threads(settings.torch_threads)
    with tempfile.TemporaryDirectory(prefix="fitboard-run-") as run_dir:
        context = CallbackContext(run_dir=Path(run_dir))
        chosen = [callback_catalog.build(cb.name, cb.params, context) for cb in request.callbacks]
        metrics = list(recipe_registry.get(recipe).metrics)
        runner = Runner(
            cbs=[dashboard, _EpochLines(out), *chosen],
            cb_funcs=[partial(AvgStatsCallback, metrics, verbose=False)],
        )
        learn = recipe_registry.build(recipe, request.params)
        with _stop_on_interrupt(runner, out):
            runner.fit(request.params.epochs, learn)
    where = f"{url} run {dashboard.run_id}" if dashboard.run_id else "the spool"
    reason = runner.stop_reason
    if reason is None:
        print(f"run completed ({where})", file=out)
        return "completed"
    if reason.source == StopSource.USER.value:
        who = "this terminal" if reason.details.get("terminal") else "the dashboard"
        print(f"stopped from {who} at epoch {reason.epoch + 1} ({where})", file=out, flush=True)
        return "stopped"
    print(f"stopped by {reason.source}: {reason.message} ({where})", file=out)
    return "early_stopped"


@contextlib.contextmanager
def _stop_on_interrupt(runner: Runner, out: TextIO) -> Iterator[None]:
    """Ctrl-C or SIGTERM stops the fit at the next batch; a second one quits at once."""
    presses = 0

    def handle(signum: int, frame: Any) -> None:
        nonlocal presses
        presses += 1
        if presses > 1:
            raise KeyboardInterrupt
        print("stopping at the next batch (Ctrl-C again to quit now)", file=out, flush=True)
        runner.request_stop("stopped from the terminal", source="user", terminal=True)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def sync_spools(paths: list[Path], url: str, token: str | None, out: TextIO) -> int:
    """Upload each spool file (a directory: every `*.jsonl` in it); how many failed."""
    files = [f for p in paths for f in (sorted(p.glob("*.jsonl")) if p.is_dir() else [p])]
    failed = 0
    for path in files:
        try:
            run_id = upload_spool(path, url, token=token)
        except (OSError, ValueError, RuntimeError) as exc:
            print(f"{path}: not uploaded: {exc}", file=out)
            failed += 1
        else:
            print(f"{path}: uploaded as run {run_id} on {url}", file=out)
    return failed
