"""The Optuna side of a sweep: its storage, study, sampler and pruner, built from the plan.

The study lives in Optuna's RDB storage on fitboard's own database URL, so
`optuna.load_study(study_name=..., storage=<FITBOARD_DATABASE_URL>)` in a notebook and
`optuna-dashboard <url>` read the same trials the sweep page shows.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.pruners import BasePruner, HyperbandPruner, MedianPruner, NopPruner
from optuna.samplers import BaseSampler, CmaEsSampler, GridSampler, RandomSampler, TPESampler
from optuna.storages import RDBStorage
from sqlalchemy import event
from sqlalchemy.engine import make_url

from app.db.engine import normalized_url
from app.sweeps.requests import SweepPlan, SweepRequest

__all__ = ["RETRIED", "RETRY_OF", "RUN_ID", "open_storage", "open_study", "prune_reason"]

# Trial user attributes (visible in optuna-dashboard too).
RUN_ID = "fitboard_run_id"  # the run that is the trial
RETRY_OF = "fitboard_retry_of"  # this trial retries an interrupted one (number)
RETRIED = "fitboard_retried"  # interrupted and retried: it does not count towards n_trials


def open_storage(database_url: str) -> RDBStorage:
    """Optuna's RDB storage on fitboard's database (its tables next to fitboard's)."""
    url = normalized_url(database_url)
    if make_url(url).get_backend_name() != "sqlite":
        return RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
    # Trials are told from the sweep thread and read from request threads; wait on SQLite's
    # lock as fitboard's own engine does, and commit as it does (a few commits a trial).
    storage = RDBStorage(
        url, engine_kwargs={"connect_args": {"check_same_thread": False, "timeout": 30}}
    )
    event.listen(storage.engine, "connect", _commit_without_fsync)
    storage.engine.dispose()  # the connection opened while setting up had no such pragma
    return storage


def _commit_without_fsync(dbapi_connection: Any, _record: Any) -> None:
    # As fitboard's own connections: in WAL mode (the database is in it), NORMAL is durable
    # across application crashes, and a commit does not wait on the disk.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def open_study(storage: RDBStorage, study_name: str, plan: SweepPlan) -> optuna.Study:
    """The sweep's study (created on first use) with the plan's sampler and pruner."""
    request = plan.request
    return optuna.create_study(
        storage=storage,
        study_name=study_name,
        direction="maximize" if request.direction == "max" else "minimize",
        sampler=_sampler(request, plan.grid),
        pruner=_pruner(request),
        load_if_exists=True,
    )


def _sampler(request: SweepRequest, grid: dict[str, list[Any]] | None) -> BaseSampler:
    seed = request.seed
    if request.sampler == "random":
        return RandomSampler(seed=seed)
    if request.sampler == "grid":
        assert grid is not None
        return GridSampler(grid, seed=seed)
    if request.sampler == "cmaes":
        return CmaEsSampler(seed=seed)
    # Parallel asks: a running trial counts as a bad result (constant liar), so trials asked
    # together spread out instead of all sampling the same promising point. One trial at a
    # time has no other running trial to lie about, and the liar would cost every ask a read
    # of the running trials from the storage (a third of an ask, on the training's GIL).
    return TPESampler(seed=seed, constant_liar=request.parallel > 1)


def _pruner(request: SweepRequest) -> BasePruner:
    if request.pruner == "median":
        return MedianPruner(
            n_startup_trials=request.startup_trials, n_warmup_steps=request.warmup_epochs
        )
    if request.pruner == "hyperband":
        return HyperbandPruner(min_resource=1, max_resource="auto")
    return NopPruner()


def prune_reason(
    study: optuna.Study, request: SweepRequest, trial: optuna.Trial, epoch: int, value: float
) -> tuple[str, dict[str, Any]]:
    """Why the pruner stopped a trial, in words and as details: the pruner, the epoch, the
    trial's value and, for the median pruner, the median of the other trials there."""
    shown = "NaN" if math.isnan(value) else f"{value:.4g}"
    details: dict[str, Any] = {"pruner": request.pruner, "epoch": epoch, "value": value}
    message = f"pruned by the {request.pruner} pruner at epoch {epoch}: {request.objective} {shown}"
    if request.pruner == "median":
        others = [
            t.intermediate_values[epoch]
            for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if epoch in t.intermediate_values and t.number != trial.number
        ]
        finite = sorted(v for v in others if not math.isnan(v))
        if finite:
            median = finite[len(finite) // 2]
            details["median"] = median
            worse = "below" if request.direction == "max" else "above"
            message += f", {worse} the median {median:.4g} of {len(finite)} finished trials"
    return message, details
