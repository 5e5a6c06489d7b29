"""Every message a run publishes, built in one place (docs/api.md, Messages).

Builders return plain dicts without the envelope (`run_id`, `seq`, `time`): the hub adds it
(or, for a run trained outside the server, its `trainer.reporting` client adds seq and time).
Numbers pass through `finite`, so NaN and infinity become null on every path (the wire, the
REST API and the database), JSON having no words for them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

__all__ = [
    "StopSource",
    "batch_message",
    "callback_message",
    "early_stop_message",
    "epoch_message",
    "evaluation_message",
    "finite",
    "fork_message",
    "hyper_message",
    "lr_find_message",
    "plain",
    "resumed_message",
    "status_message",
    "stop_reason_dict",
    "summary",
    "system_message",
]

Message = dict[str, Any]


class StopSource(str, Enum):
    """Who asked a run to stop, as `stop_reason.source` says: a person (`user`), the server
    shutting down (`shutdown`), or nobody: the process executing the run died and a
    checkpoint is left to resume from (`lost`; the run is then `interrupted`, as on a
    shutdown), or a run paused longer than `FITBOARD_PAUSE_TIMEOUT_S` (`pause_timeout`:
    `interrupted`, so that its worker is free and it can resume from its checkpoint), or a
    sweep's pruner (`pruner`: the trial ends `pruned`). Any
    other source is the name of the callback that stopped it (`early_stopping`,
    `time_limit`...): the run then ended `early_stopped`."""

    USER = "user"
    SHUTDOWN = "shutdown"
    LOST = "lost"
    PAUSE_TIMEOUT = "pause_timeout"
    PRUNER = "pruner"

    @classmethod
    def is_request(cls, source: str) -> bool:
        """True for a stop someone asked for, False for one a callback decided."""
        return source in _REQUEST_SOURCES


_REQUEST_SOURCES = frozenset(s.value for s in StopSource)


def finite(value: Any) -> float | None:
    """A number (float, int, tensor or numpy scalar) as a float, or None if NaN or infinite."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def plain(value: Any) -> Any:
    """A JSON-ready value: None, bools, ints and strings as they are, other numbers `finite`,
    containers element by element, anything else its `str`."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    try:
        return finite(value)
    except (TypeError, ValueError):
        return str(value)


def stop_reason_dict(
    source: str,
    message: str,
    epoch: int | None = None,
    iter: int | None = None,  # the notebook's name for the batch counter
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A `stop_reason` object: who stopped the run, why, and where the loop honoured it."""
    return {
        "source": source,
        "message": message,
        "epoch": epoch,
        "iter": iter,
        "details": plain(dict(details or {})),
    }


def status_message(
    status: str,
    stop_reason: dict[str, Any] | None = None,
    error: str | None = None,
    *,
    at: dict[str, int] | None = None,
    placement: dict[str, Any] | None = None,
) -> Message:
    """`status` {status, stop_reason?, error?, epoch?, iter?, placement?}: the run entered
    `status`; `at` says where in the loop, for a change the loop made at a batch boundary
    (paused); `placement`, where the run began to execute (running)."""
    message: Message = {"type": "status", "status": status, **(at or {})}
    if placement is not None:
        message["placement"] = placement
    if stop_reason is not None:
        message["stop_reason"] = stop_reason
    if error is not None:
        message["error"] = error
    return message


def resumed_message(checkpoint: str, after_epoch: int, epochs: int | None) -> Message:
    """`resumed` {checkpoint, after_epoch, epochs}: a run was queued again to continue after
    the epoch (from 0) its checkpoint holds, up to `epochs` in all (resume, extend)."""
    return {
        "type": "resumed",
        "checkpoint": checkpoint,
        "after_epoch": after_epoch,
        "epochs": epochs,
    }


def fork_message(
    parent_id: str, child_id: str, point: Mapping[str, Any] | None, error: str | None = None
) -> Message:
    """`fork` {parent_id, child_id, point, error}: `child_id` was forked from `parent_id` at
    `point` ({epoch, batch, iter}: the epoch from 0, its batches done, the training batches
    done in all); in both runs' logs. A snapshot that could not be taken has `point` null
    and says why in `error` (then in the parent's log only)."""
    return {
        "type": "fork",
        "parent_id": parent_id,
        "child_id": child_id,
        "point": None if point is None else plain(dict(point)),
        "error": error,
    }


def system_message(
    cpu_percent: float,
    rss_bytes: int,
    epoch: int,
    iter: int,
    gpu: tuple[float, int, int] | None = None,
) -> Message:
    """`system` {cpu_percent, rss_bytes, epoch, iter, gpu_percent?, gpu_memory_bytes?,
    gpu_memory_total?}: the training process's CPU use (100 is one core) and resident
    memory, sampled at most once a second; with `gpu` (utilisation %, memory used, memory
    total), its GPU's too."""
    message: Message = {
        "type": "system",
        "cpu_percent": finite(cpu_percent),
        "rss_bytes": int(rss_bytes),
        "epoch": epoch,
        "iter": iter,
    }
    if gpu is not None:
        percent, used, total = gpu
        message |= {
            "gpu_percent": finite(percent),
            "gpu_memory_bytes": int(used),
            "gpu_memory_total": int(total),
        }
    return message


def batch_message(epoch: int, iter: int, loss: Any, lr: Any) -> Message:
    """`batch` {epoch, iter, loss, lr}: one training batch's loss (throttled by the sender)."""
    return {"type": "batch", "epoch": epoch, "iter": iter, "loss": finite(loss), "lr": finite(lr)}


def epoch_message(
    epoch: int,
    train: Mapping[str, Any],
    valid: Mapping[str, Any],
    elapsed: float,
    batches: dict[str, list[Any]] | None = None,
) -> Message:
    """`epoch` {epoch, train, valid, elapsed, batches?}: the epoch's AvgStats and, optionally,
    its batch-loss curve in columns (`{"iter": [...], "loss": [...], "lr": [...]}`)."""
    message: Message = {
        "type": "epoch",
        "epoch": epoch,
        "train": plain(dict(train)),
        "valid": plain(dict(valid)),
        "elapsed": elapsed,
    }
    if batches is not None:
        message["batches"] = batches
    return message


def early_stop_message(reason: dict[str, Any]) -> Message:
    """`early_stop` {epoch, iter, reason, source, monitor, value}: a callback stopped the run."""
    details = reason.get("details") or {}
    return {
        "type": "early_stop",
        "epoch": reason["epoch"],
        "iter": reason["iter"],
        "reason": reason["message"],
        "source": reason["source"],
        "monitor": details.get("monitor"),
        "value": plain(details.get("value")),
    }


def hyper_message(
    applied: Mapping[str, float], missing: list[str], epoch: int, iter: int
) -> Message:
    """`hyper` {values, missing, epoch, iter}: hyperparameters set in every param group from
    this batch on; `missing` names those the optimizer does not have (left alone)."""
    return {
        "type": "hyper",
        "values": plain(dict(applied)),
        "missing": missing,
        "epoch": epoch,
        "iter": iter,
    }


def evaluation_message(epoch: int, iter: int, valid: Mapping[str, Any]) -> Message:
    """`evaluation` {epoch, iter, valid}: validation run on request in the middle of a fit."""
    return {"type": "evaluation", "epoch": epoch, "iter": iter, "valid": plain(dict(valid))}


def callback_message(action: str, cb_id: str, name: str, params: Mapping[str, Any]) -> Message:
    """`callback` {action: attached|detached, id, name, params}."""
    return {"type": "callback", "action": action, "id": cb_id, "name": name, "params": params}


def summary(message: Message) -> Message:
    """`message` without an epoch's `batches` curve: what run lists (`latest`, `WS /ws/runs`)
    carry, so a page of 50 runs does not ship 50 batch histories."""
    if "batches" not in message:
        return message
    return {key: value for key, value in message.items() if key != "batches"}


def lr_find_message(lrs: Sequence[float], losses: Sequence[float], suggestion: Any) -> Message:
    """`lr_find` {lr, loss, suggestion}: an LR finder's sweep, one point per training batch
    (a diverged loss is null), and the lr it suggests with the rule that chose it
    (`suggestion`: {lr, rule, steepest, minimum}, from `trainer.suggest_lr`)."""
    return {
        "type": "lr_find",
        "lr": [finite(lr) for lr in lrs],
        "loss": [finite(loss) for loss in losses],
        "suggestion": {
            "lr": finite(suggestion.lr),
            "rule": suggestion.rule,
            "steepest": finite(suggestion.steepest),
            "minimum": finite(suggestion.minimum),
        },
    }
