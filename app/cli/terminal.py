"""`fitboard run`: one run trained in this process, shown in the terminal, stored for the dashboard.

The run goes through the same `RunManager`, `EventHub` and database as the server's runs
(one place builds a run); the terminal is just another subscriber of the run's messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Any, TextIO

from tqdm.auto import tqdm

from app.config import Settings
from app.db import RunStatus, Store
from app.live.hub import EventHub
from app.runs import InvalidRequest, RunManager, RunStateConflict
from app.services import running_services

__all__ = ["explain", "train_in_terminal"]


async def train_in_terminal(
    settings: Settings,
    recipe: str,
    params: dict[str, Any],
    callbacks: list[tuple[str, dict[str, Any]]],
    name: str | None,
    out: TextIO,
) -> str:
    """Create the run, train it here while printing its progress, and return its final status.

    Raises `InvalidRequest` when the request is invalid (`explain` words it for a terminal);
    nothing is stored then.
    """
    # Starting the manager recovers as the server does (runs.owners.interrupt_orphans): runs of
    # a live server or terminal are left alone, only those whose process is gone interrupted.
    async with running_services(settings.model_copy(update={"workers": 1})) as services:
        store, manager = services.store, services.manager
        row = manager.create(recipe, params, callbacks, name)
        progress = _Progress(out, int(row.params["epochs"]))
        progress.write(f"run {row.id} ({row.name}): {recipe} {_plain_params(row.params)}")
        follow = asyncio.ensure_future(_follow(services.hub, store, row.id, progress))
        with (
            _interrupts(lambda: _stop(manager, row.id, progress), follow.cancel),
            contextlib.suppress(asyncio.CancelledError),
        ):
            await follow
        progress.close()
    final = store.get_run(row.id)
    assert final is not None
    return str(final.status)


async def _follow(hub: EventHub, store: Store, run_id: str, progress: _Progress) -> None:
    async for message in hub.stream(run_id, 0, store.events_after):
        progress.show(message)
        if message["type"] == "status" and RunStatus(message["status"]).finished:
            return


def _stop(manager: RunManager, run_id: str, progress: _Progress) -> None:
    progress.write("stopping at the next batch (Ctrl-C again to abandon the run)")
    with contextlib.suppress(RunStateConflict):  # it finished in the meantime
        manager.stop(run_id)


@contextlib.contextmanager
def _interrupts(first: Callable[[], None], again: Callable[[], Any]) -> Any:
    """Route Ctrl-C and SIGTERM: the first one to `first`, any later one to `again`."""
    loop = asyncio.get_running_loop()
    presses = 0

    def handle() -> None:
        nonlocal presses
        presses += 1
        (first if presses == 1 else again)()

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, handle)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


class _Progress:
    """An epoch bar with the live loss (terminals only) and one line per epoch and event."""

    def __init__(self, out: TextIO, epochs: int) -> None:
        self.out, self.epochs = out, epochs
        is_terminal = bool(getattr(out, "isatty", None) and out.isatty())
        self.bar = tqdm(total=epochs, unit="epoch", file=out, disable=not is_terminal)
        self.closed = False

    def write(self, line: str) -> None:
        if self.bar.disable or self.closed:
            print(line, file=self.out, flush=True)
        else:
            self.bar.write(line, file=self.out)

    def show(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "batch":
            self._postfix(message["loss"], message["lr"])
        elif kind == "epoch":
            # Batch messages are throttled: the epoch's curve holds its last batch.
            curve = message.get("batches") or {}
            if curve.get("loss"):
                self._postfix(curve["loss"][-1], (curve.get("lr") or [None])[-1])
            self.bar.update(1)
            self.write(_epoch_line(message, self.epochs))
        elif kind == "early_stop":
            self.write(f"early stop: {message['reason']}")
        elif kind == "status" and RunStatus(message["status"]).finished:
            self.close()  # the bar's last frame first, then the run's last line below it
            self.write(_final_line(message))

    def _postfix(self, loss: Any, lr: Any) -> None:
        lr_text = "nan" if lr is None else f"{lr:.3g}"
        self.bar.set_postfix(loss=_number(loss), lr=lr_text, refresh=False)

    def close(self) -> None:
        """Draw the bar's last frame and leave it; later lines print below (idempotent)."""
        if not self.closed:
            self.closed = True
            self.bar.close()


def _epoch_line(message: dict[str, Any], epochs: int) -> str:
    def stats(phase: str) -> str:
        return " ".join(f"{k} {_number(v)}" for k, v in message[phase].items())

    return (
        f"epoch {message['epoch'] + 1}/{epochs}  train {stats('train')} | "
        f"valid {stats('valid')}  ({message['elapsed']:.1f} s)"
    )


def _final_line(message: dict[str, Any]) -> str:
    line = f"run {message['run_id']} {message['status']}"
    reason = message.get("stop_reason")
    if reason:
        where = f" at epoch {reason['epoch']}, iteration {reason['iter']}" if reason["iter"] else ""
        line += f": {reason['message']}{where}"
    if message.get("error"):
        line += f": {message['error']}"
    return line


def _number(value: Any) -> str:
    return "nan" if value is None else f"{value:.4f}"


def _plain_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items() if v is not None)


def explain(exc: InvalidRequest) -> str:
    """InvalidRequest's errors in the terms of the command line (`--set lr`, `--callback x`)."""
    lines = []
    for error in exc.errors:
        loc = [str(part) for part in error["loc"]]
        if loc[:1] == ["params"]:
            where = f"--set {'.'.join(loc[1:])}"
        elif loc[:1] == ["callbacks"]:
            where = f"--callback #{int(loc[1]) + 1} {'.'.join(loc[3:]) or loc[2]}"
        else:
            where = "RECIPE" if loc == ["recipe"] else ".".join(loc)
        lines.append(f"  {where}: {error['msg']}")
    return "invalid run:\n" + "\n".join(lines)
