"""The catalog of callbacks a client may attach to a run, by name, with validated parameters.

A client sends `{"name": "early_stopping", "params": {...}}`; the name picks a `CallbackSpec`
and pydantic checks the params (bounded, no unknown keys). Nothing sent is imported, run or
turned into a path: a checkpoint always goes into the run's own directory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from app.live.messages import hyper_message, lr_find_message
from trainer import Callback
from trainer.callbacks import (
    EarlyStopping,
    GradientClip,
    LR_Find,
    ParamScheduler,
    SaveModel,
    StopAfterIters,
    TerminateOnNaN,
    TimeLimit,
    cosine_sched,
    one_cycle_sched,
    suggest_lr,
)

from .registry import Registry

__all__ = [
    "HYPER_BOUNDS",
    "CallbackCatalog",
    "CallbackContext",
    "CallbackParams",
    "CallbackSpec",
    "SetHyperparameter",
    "callback",
    "callback_catalog",
]

MAX_EPOCH_COUNT = 1000
WEEK_SECONDS = 7 * 24 * 3600
# Upper bounds of the hyperparameters a client may set on a live run.
HYPER_BOUNDS: dict[str, tuple[float, float]] = {
    "lr": (0.0, 10.0),
    "momentum": (0.0, 0.999),
    "weight_decay": (0.0, 1.0),
}
HyperName = Literal["lr", "momentum", "weight_decay"]
Mode = Literal["auto", "min", "max"]


class CallbackParams(BaseModel):
    """Base of every catalog entry's parameters: no unknown keys, immutable once checked."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


@dataclass(frozen=True)
class CallbackContext:
    """What a callback may know about the run it joins: its own directory for files, the
    run's `publish` for a callback that reports a result of its own (the LR finder), and its
    id in the run's list (a one-shot callback names itself when it has acted)."""

    run_dir: Path
    publish: Callable[[dict[str, Any]], Any] | None = None
    callback_id: str | None = None


@dataclass(frozen=True)
class CallbackSpec:
    """An attachable callback: `build(params_model(...), ctx) -> trainer Callback`."""

    name: str
    description: str
    params_model: type[CallbackParams]
    build: Callable[[Any, CallbackContext], Callback]

    def describe(self) -> dict[str, Any]:
        """Name, description and the JSON Schema of the parameters (for GET /api/callbacks)."""
        schema = self.params_model.model_json_schema()
        return {"name": self.name, "description": self.description, "params_schema": schema}


class CallbackCatalog(Registry[CallbackSpec]):
    """Attachable callbacks by name; `callback_catalog` is the process-wide one."""

    kind = "callback"
    params_base = CallbackParams

    def validate_params(
        self,
        name: str,
        params: Mapping[str, Any] | None,
        *,
        monitors: Sequence[str] | None = None,
    ) -> CallbackParams:
        """Check a client's parameters for entry `name` (pydantic ValidationError, `loc`
        relative to the params object). `monitors` are the run's stat names
        (`Recipe.monitors`); given, a `monitor` parameter must be one of them."""
        context = {"monitors": list(monitors) if monitors is not None else None}
        return self._parse(name, params, context)  # type: ignore[no-any-return]

    def build(self, name: str, params: CallbackParams, ctx: CallbackContext) -> Callback:
        """A fresh trainer Callback for entry `name` from already validated params."""
        return self._checked(name, params).build(params, ctx)


callback_catalog = CallbackCatalog()


def callback(name: str, description: str, params_model: type[CallbackParams]):
    """Decorator: register the decorated `build(params, ctx) -> Callback` as callback `name`."""

    def register(build: Callable[[Any, CallbackContext], Callback]):
        callback_catalog.add(CallbackSpec(name, description, params_model, build))
        return build

    return register


# --- parameters shared by entries that watch a metric ---------------------------------------


class MonitorParams(CallbackParams):
    """A metric to watch: `<train|valid>_<stat>` such as `valid_loss` or `valid_accuracy`."""

    monitor: str = Field(
        default="valid_loss",
        pattern=r"^(train|valid)_[a-z][a-z0-9_]*$",
        max_length=64,
        description="The epoch statistic to watch, e.g. valid_loss or valid_accuracy.",
    )
    mode: Mode = Field(
        default="auto", description="auto: minimise names holding 'loss', else maximise."
    )

    @field_validator("monitor")
    @classmethod
    def _known_monitor(cls, monitor: str, info: ValidationInfo) -> str:
        monitors = (info.context or {}).get("monitors")
        if monitors is not None and monitor not in monitors:
            raise ValueError(
                f"{monitor!r} is not a statistic of this run; choose one of {monitors}"
            )
        return monitor


# --- the entries ----------------------------------------------------------------------------


class EarlyStoppingParams(MonitorParams):
    patience: int = Field(
        default=3, ge=0, le=MAX_EPOCH_COUNT, description="Epochs without improvement."
    )
    min_delta: float = Field(default=0.0, ge=0, le=1e9, description="Smallest change that counts.")


@callback("early_stopping", "Stop when a metric stops improving.", EarlyStoppingParams)
def _early_stopping(params: EarlyStoppingParams, ctx: CallbackContext) -> Callback:
    return EarlyStopping(params.monitor, params.patience, params.min_delta, params.mode)


class StopAfterItersParams(CallbackParams):
    n: int = Field(
        default=100, ge=1, le=10_000_000, description="Training batches before stopping."
    )


@callback("stop_after_iters", "Stop after a number of training batches.", StopAfterItersParams)
def _stop_after_iters(params: StopAfterItersParams, ctx: CallbackContext) -> Callback:
    return StopAfterIters(params.n)


class TimeLimitParams(CallbackParams):
    seconds: float = Field(
        default=600.0,
        gt=0,
        le=WEEK_SECONDS,
        description="Wall-clock seconds from when it is attached.",
    )


@callback("time_limit", "Stop after a wall-clock time limit.", TimeLimitParams)
def _time_limit(params: TimeLimitParams, ctx: CallbackContext) -> Callback:
    return TimeLimit(params.seconds)


class NoParams(CallbackParams):
    pass


@callback("terminate_on_nan", "Stop as soon as the loss is NaN or infinite.", NoParams)
def _terminate_on_nan(params: NoParams, ctx: CallbackContext) -> Callback:
    return TerminateOnNaN()


class CheckpointParams(MonitorParams):
    every: Literal["epoch", "best"] = Field(
        default="epoch",
        description="epoch: last.pt after every epoch; best: best.pt when monitor improves.",
    )


@callback("checkpoint", "Save a resumable checkpoint in the run's directory.", CheckpointParams)
def _checkpoint(params: CheckpointParams, ctx: CallbackContext) -> Callback:
    return SaveModel(ctx.run_dir, every=params.every, monitor=params.monitor, mode=params.mode)


class LRFindParams(CallbackParams):
    max_iter: int = Field(default=100, ge=5, le=1000, description="Training batches to sweep.")
    min_lr: float = Field(default=1e-7, gt=0, le=1, description="Learning rate of the first batch.")
    max_lr: float = Field(
        default=10.0, gt=0, le=100, description="Learning rate of the last batch."
    )

    @field_validator("max_lr")
    @classmethod
    def _above_min(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("min_lr")
        if low is not None and value <= low:
            raise ValueError(f"must be greater than min_lr ({low:g})")
        return value


class _ReportingLRFind(LR_Find):
    """The course's LR_Find that also keeps its (lr, loss) points and, once the sweep ends,
    publishes them with the suggested lr in one `lr_find` message."""

    def __init__(self, params: LRFindParams, publish: Callable[[dict[str, Any]], Any]) -> None:
        super().__init__(params.max_iter, params.min_lr, params.max_lr)
        self.report = publish
        self.lrs: list[float] = []
        self.losses: list[float] = []

    def after_step(self) -> None:
        lr, loss = float(self.opt.param_groups[0]["lr"]), float(self.loss.detach())
        self.lrs.append(lr)
        self.losses.append(loss)
        # Say why the sweep ends, before LR_Find ends it with CancelTrainException.
        if self.n_iter >= self.max_iter:
            self.run.request_stop(f"swept {len(self.lrs)} batches", source=self.name)
        elif loss > self.best_loss * 10:
            self.run.request_stop(f"the loss diverged at lr {lr:.3g}", source=self.name)
        super().after_step()

    def after_fit(self) -> None:
        if not self.lrs:
            return
        suggestion = suggest_lr(self.lrs, self.losses)
        self.report(lr_find_message(self.lrs, self.losses, suggestion))


@callback(
    "lr_find",
    "Sweep the learning rate exponentially, one value per batch, and suggest one "
    "(the course's LR_Find; the fit ends when the sweep does).",
    LRFindParams,
)
def _lr_find(params: LRFindParams, ctx: CallbackContext) -> Callback:
    if ctx.publish is None:
        raise ValueError("lr_find reports its curve as a message: it needs the run's publish")
    return _ReportingLRFind(params, ctx.publish)


class LRScheduleParams(CallbackParams):
    kind: Literal["one_cycle", "cosine"] = Field(
        default="one_cycle", description="Shape of the schedule."
    )
    lr_max: float = Field(default=0.5, gt=0, le=10, description="Peak learning rate.")
    lr_min: float = Field(default=0.0, ge=0, le=10, description="cosine: final learning rate.")
    pct_start: float = Field(
        default=0.3, gt=0, lt=1, description="one_cycle: fraction spent warming up."
    )

    @field_validator("lr_min")
    @classmethod
    def _below_max(cls, lr_min: float, info: ValidationInfo) -> float:
        lr_max = info.data.get("lr_max")
        if lr_max is not None and lr_min >= lr_max:
            raise ValueError("must be below lr_max")
        return lr_min


@callback(
    "lr_schedule",
    "Set the learning rate every batch from a one-cycle or cosine schedule over the fit.",
    LRScheduleParams,
)
def _lr_schedule(params: LRScheduleParams, ctx: CallbackContext) -> Callback:
    if params.kind == "one_cycle":
        return ParamScheduler("lr", one_cycle_sched(params.lr_max, params.pct_start))
    return ParamScheduler("lr", cosine_sched(params.lr_max, params.lr_min))


class GradientClipParams(CallbackParams):
    max_norm: float = Field(
        default=1.0, gt=0, le=1e6, description="Largest L2 norm of all gradients."
    )


@callback("gradient_clip", "Clip the gradients' global norm before each step.", GradientClipParams)
def _gradient_clip(params: GradientClipParams, ctx: CallbackContext) -> Callback:
    return GradientClip(params.max_norm)


class SetHyperparameterParams(CallbackParams):
    hyperparameter: HyperName = Field(default="lr", description="Optimizer setting to change.")
    value: float = Field(
        description="New value: lr in (0, 10], momentum in [0, 0.999], weight_decay in [0, 1]."
    )

    @field_validator("value")
    @classmethod
    def _in_bounds(cls, value: float, info: ValidationInfo) -> float:
        name = info.data.get("hyperparameter")
        if name is None:
            return value
        low, high = HYPER_BOUNDS[name]
        if not low <= value <= high or (name == "lr" and value == 0):
            raise ValueError(f"{name} must lie in {'(' if name == 'lr' else '['}{low}, {high}]")
        return value


class SetHyperparameter(Callback):
    """Set an optimizer hyperparameter in every param group once, when it joins the fit
    (at the start, or at the next batch boundary when attached to a running fit). With
    `publish`, it says so in a `hyper` message naming `callback_id`: the dashboard then
    shows the change in the run's configuration and the callback as done."""

    def __init__(
        self,
        hyperparameter: str,
        value: float,
        publish: Callable[[dict[str, Any]], Any] | None = None,
        callback_id: str | None = None,
    ) -> None:
        self.hyperparameter, self.value = hyperparameter, value
        self.publish, self.callback_id = publish, callback_id

    def begin_fit(self) -> None:
        if self.hyperparameter not in self.run.opt.param_groups[0]:
            raise ValueError(f"the optimizer has no {self.hyperparameter!r} to set")
        # Joining at a batch boundary, so the Runner applies it before the next batch.
        self.run.set_hyper(self.hyperparameter, self.value)
        if self.publish is not None:
            message = hyper_message({self.hyperparameter: self.value}, [], self.epoch, self.n_iter)
            self.publish(message | {"callback_id": self.callback_id})


@callback(
    "set_hyperparameter",
    "Change lr, momentum or weight decay of every parameter group once.",
    SetHyperparameterParams,
)
def _set_hyperparameter(params: SetHyperparameterParams, ctx: CallbackContext) -> Callback:
    return SetHyperparameter(params.hyperparameter, params.value, ctx.publish, ctx.callback_id)
