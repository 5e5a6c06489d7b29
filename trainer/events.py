"""The loop's events, declared once, and the exceptions that steer or report on the loop."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CANCEL_EVENTS",
    "EVENTS",
    "PAUSE_EVENTS",
    "CallbackError",
    "CancelBatchException",
    "CancelEpochException",
    "CancelException",
    "CancelTrainException",
    "StopReason",
]

#: The notebook's events, in the order one fit raises them.
EVENTS: tuple[str, ...] = (
    "begin_fit",
    "begin_epoch",
    "begin_batch",
    "after_pred",
    "after_loss",
    "after_backward",
    "after_step",
    "after_batch",
    "begin_validate",
    "after_epoch",
    "after_fit",
)
#: Raised after the matching Cancel*Exception is caught (the course's next notebook).
CANCEL_EVENTS: tuple[str, ...] = ("after_cancel_batch", "after_cancel_epoch", "after_cancel_train")
#: Raised on the training thread at the batch boundary where a pause is honoured, and when
#: the loop goes on again (`Runner.pause` / `Runner.resume`).
PAUSE_EVENTS: tuple[str, ...] = ("begin_pause", "after_pause")


class CancelException(Exception):
    """Base of the exceptions a callback raises to skip part of the loop."""


class CancelBatchException(CancelException):
    """Skip the rest of this batch; `after_cancel_batch` and `after_batch` still run."""


class CancelEpochException(CancelException):
    """Skip the rest of this phase (training or validation) of the epoch."""


class CancelTrainException(CancelException):
    """End the fit; `after_cancel_train` and `after_fit` still run."""


class CallbackError(RuntimeError):
    """An exception raised inside a callback, re-raised with the callback's and event's name.

    The original exception is `__cause__`.
    """

    def __init__(self, callback_name: str, event: str, original: BaseException) -> None:
        self.callback_name, self.event, self.original = callback_name, event, original
        super().__init__(
            f"callback {callback_name!r} failed in {event}: {type(original).__name__}: {original}"
        )


@dataclass(frozen=True)
class StopReason:
    """Why a fit ended early.

    `source` names who asked (`"user"`, or the stopping callback's `name`); `epoch` is the
    epoch in which the loop honoured the request and `iter` the training batches done by
    then (`run.n_iter`).
    """

    source: str
    message: str
    epoch: int
    iter: int
    details: dict[str, Any] = field(default_factory=dict)
