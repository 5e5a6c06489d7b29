"""Watch and steer a run from a fitboard dashboard while it trains in your own process.

- `DashboardCallback(url)`: add it to any `Runner`. Each `fit` becomes a run on the server,
  streamed live (the same messages a run trained by the server emits), and the dashboard's
  Stop, attach / detach, hyperparameter and pause buttons act at the next batch boundary.
- `DashboardRun(url)`: the same for a plain loop that does not use `trainer`:
  `log_batch`, `log_epoch`, and `should_stop` to honour the dashboard's Stop.

Both report through a `ReportClient` on a background thread: the training thread only
appends messages to a list, and a network that drops (or a server that is not up yet)
costs the run nothing but a spool file, uploaded when it is back or with `fitboard sync`.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from ..callback import Callback
from .boundary import HyperEdit
from .catalog import CallbackRefused, build_attachable
from .client import ReportClient
from .downsample import downsample
from .messages import (
    StopSource,
    batch_message,
    epoch_message,
    finite,
    status_message,
    stop_reason_dict,
)
from .stats import WebSocketStatsCallback

__all__ = ["DashboardCallback", "DashboardRun"]

log = logging.getLogger("trainer.reporting")

CLOSE_TIMEOUT = 10.0  # seconds a finished run's sender keeps trying to deliver the rest


def _server(url: str | None, token: str | None) -> tuple[str, str | None]:
    url = url or os.environ.get("FITBOARD_URL")
    if not url:
        raise ValueError("give the dashboard's URL, or set FITBOARD_URL")
    return url, token if token is not None else os.environ.get("FITBOARD_TOKEN")


def _final(reason: Any, error: BaseException | None) -> dict[str, Any]:
    """The last status message of a fit that ended with `reason` (a StopReason or None)."""
    if error is not None:
        return status_message("failed", error=f"{type(error).__name__}: {error}")
    if reason is None:
        return status_message("completed")
    plain = stop_reason_dict(
        reason.source, reason.message, reason.epoch, reason.iter, reason.details
    )
    return status_message(
        "stopped" if StopSource.is_request(reason.source) else "early_stopped", plain
    )


class DashboardCallback(WebSocketStatsCallback):
    """Streams each fit to the fitboard server at `url` and obeys its dashboard.

    `token` is the server's FITBOARD_TOKEN (default: the environment's); `name` and
    `params` are what the dashboard shows for the run; `spool_dir` is where messages wait
    while the server is unreachable (default `~/.cache/fitboard/spool`). After a fit,
    `run_id` is the run's id on the server and `run.stop_reason` says who stopped it
    (`source` "user": the dashboard's Stop).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        name: str | None = None,
        params: dict[str, Any] | None = None,
        spool_dir: str | Path | None = None,
        batch_interval: float = 0.25,
    ) -> None:
        super().__init__(self._publish, batch_interval=batch_interval)
        self.url, self.token = _server(url, token)
        self.run_name, self.params, self.spool_dir = name, params or {}, spool_dir
        self.client: ReportClient | None = None
        self._attached: dict[str, Callback] = {}

    @property
    def run_id(self) -> str | None:
        """The run's id on the server (None until the server registered it)."""
        return self.client.run_id if self.client is not None else None

    def _publish(self, message: dict[str, Any]) -> dict[str, Any]:
        return self.client.publish(message) if self.client is not None else message

    def begin_fit(self) -> None:
        self.client = ReportClient(
            self.url,
            token=self.token,
            name=self.run_name,
            params=self.params,
            spool_dir=self.spool_dir,
            on_command=self._command,
        ).start()
        super().begin_fit()
        self.publish(status_message("running"))

    def begin_pause(self) -> None:
        super().begin_pause()
        self.publish(status_message("paused", at={"epoch": self.run.epoch, "iter": self.n_iter}))

    def after_pause(self) -> None:
        super().after_pause()
        self.publish(status_message("running", at={"epoch": self.run.epoch, "iter": self.n_iter}))

    def after_fit(self) -> None:
        super().after_fit()  # the early_stop message, if a callback stopped the fit
        error = sys.exc_info()[1]  # after_fit runs in the loop's `finally`
        self.publish(_final(self.run.stop_reason, error))
        assert self.client is not None
        self.client.finish(CLOSE_TIMEOUT)  # delivered in the background: the fit is over

    def wait_delivered(self, timeout: float = CLOSE_TIMEOUT) -> bool:
        """Wait until the last fit's messages are all on the server (True), or `timeout`."""
        return self.client is not None and self.client.close(timeout)

    def _command(self, frame: dict[str, Any]) -> None:
        """A command from the dashboard (on the sender thread): the Runner applies each at
        its next batch boundary."""
        run = self.run
        match frame.get("command"):
            case "stop":
                run.request_stop(str(frame["message"]), source=str(frame["source"]))
            case "attach":
                try:
                    callback = build_attachable(str(frame["name"]), dict(frame["params"]))
                except CallbackRefused as exc:
                    log.warning("fitboard: cannot attach %s here: %s", frame.get("name"), exc)
                    return
                self._attached[str(frame["id"])] = callback
                run.add_cbs([callback])
            case "detach":
                detached = self._attached.pop(str(frame["id"]), None)
                if detached is not None:
                    run.remove_cbs([detached])
            case "set_hyper":
                values = {str(k): float(v) for k, v in dict(frame["values"]).items()}
                run.add_cbs([HyperEdit(values, self.publish)])
            case "pause":
                run.pause()
            case "resume":
                run.resume()
            case other:
                log.warning("fitboard: unknown command %r", other)


class DashboardRun:
    """A plain training loop's run on the fitboard server at `url`::

        with DashboardRun("http://127.0.0.1:8000", name="mine", params={"lr": 0.1}) as r:
            for epoch in range(10):
                for xb, yb in train_dl:
                    ...
                    r.log_batch(loss.item(), lr=0.1)
                    if r.should_stop:
                        break
                if r.should_stop:
                    break
                r.log_epoch(epoch, train={"loss": t}, valid={"loss": v, "accuracy": a})

    `should_stop` turns True when the dashboard's Stop is clicked; the run then ends
    `stopped`. An exception out of the block ends it `failed`; otherwise `completed`.
    Attaching callbacks and editing hyperparameters need a `Runner` (`DashboardCallback`).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        name: str | None = None,
        params: dict[str, Any] | None = None,
        spool_dir: str | Path | None = None,
        batch_interval: float = 0.25,
        batch_points: int = 100,
    ) -> None:
        url, token = _server(url, token)
        self.client = ReportClient(
            url,
            token=token,
            name=name,
            params=params,
            spool_dir=spool_dir,
            on_command=self._command,
        )
        self.batch_interval, self.batch_points = batch_interval, batch_points
        self.stop_reason: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._started = 0.0
        self._last_batch = -math.inf
        self._iter = 0
        self._epoch = 0
        self._curve: tuple[list[int], list[float | None], list[float | None]] = ([], [], [])

    @property
    def run_id(self) -> str | None:
        return self.client.run_id

    @property
    def should_stop(self) -> bool:
        """True once the dashboard asked the run to stop: leave the loop."""
        return self._stop.is_set()

    def __enter__(self) -> DashboardRun:
        self.client.start()
        self._started = time.perf_counter()
        self.client.publish(status_message("running"))
        return self

    def log_batch(
        self,
        loss: float,
        *,
        lr: float | None = None,
        epoch: int | None = None,
        iter: int | None = None,
    ) -> None:
        """One training batch's loss (and learning rate); `iter` counts training batches
        (default: one more than the last)."""
        self._iter = iter if iter is not None else self._iter + 1
        if epoch is not None:
            self._epoch = epoch
        iters, losses, lrs = self._curve
        iters.append(self._iter)
        losses.append(finite(loss))
        lrs.append(finite(lr))
        now = time.perf_counter()
        if now - self._last_batch >= self.batch_interval:
            self._last_batch = now
            self.client.publish(batch_message(self._epoch, self._iter, loss, lr))

    def log_epoch(
        self,
        epoch: int,
        train: dict[str, float] | None = None,
        valid: dict[str, float] | None = None,
    ) -> None:
        """The epoch's statistics (`{"loss": .., "accuracy": ..}`), with its batch curve."""
        iters, losses, lrs = self._curve
        curve = downsample(iters, losses, lrs, self.batch_points)
        self._curve = ([], [], [])
        elapsed = time.perf_counter() - self._started
        self.client.publish(epoch_message(epoch, train or {}, valid or {}, elapsed, curve))
        self._epoch = epoch + 1

    def _command(self, frame: dict[str, Any]) -> None:
        if frame.get("command") == "stop":
            self.stop_reason = stop_reason_dict(
                str(frame["source"]), str(frame["message"]), self._epoch, self._iter
            )
            self._stop.set()
        else:
            log.warning("fitboard: a plain loop cannot %s; use a Runner", frame.get("command"))

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is not None:
            final = status_message("failed", error=f"{type(error).__name__}: {error}")
        elif self.stop_reason is not None:
            final = status_message("stopped", self.stop_reason)
        else:
            final = status_message("completed")
        self.client.publish(final)
        self.client.finish(CLOSE_TIMEOUT)  # delivered in the background, waited for at exit

    def wait_delivered(self, timeout: float = CLOSE_TIMEOUT) -> bool:
        """Wait until every message is on the server (True), or `timeout` seconds."""
        return self.client.close(timeout)
