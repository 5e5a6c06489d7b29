"""A sweep as the API shows it: its request, its best trial and every trial, read from the
study's trials in Optuna's storage and the trials' runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import optuna
from optuna.importance import FanovaImportanceEvaluator, get_param_importances
from optuna.trial import FrozenTrial, TrialState

from app.db.models import RunRow, SweepRow
from app.live.messages import finite, plain
from app.sweeps.study import RETRIED, RETRY_OF, RUN_ID

__all__ = ["describe", "importances"]


def describe(
    row: SweepRow,
    trials: Sequence[FrozenTrial],
    runs: Sequence[RunRow],
    *,
    with_trials: bool = True,
) -> dict[str, Any]:
    """The sweep's JSON: `id`, `status`, `n_trials`, its request, `best` and `trials`."""
    request = row.request
    asked = [t for t in trials if t.state != TrialState.WAITING]
    counts = {state.name.lower(): 0 for state in TrialState if state != TrialState.WAITING}
    for trial in asked:
        counts[trial.state.name.lower()] += 1
    sweep: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "status": row.status,
        "stopping": row.stopping,
        "n_trials": row.n_trials,
        "study_name": row.study_name,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
        "error": row.error,
        **{key: request[key] for key in _REQUEST_FIELDS},
        "counts": counts,
        "best": _best(asked, request["direction"]),
    }
    if with_trials:
        # A trial's run row is written before the trial records its id: join on the number.
        run_of = {run.trial_number: run for run in runs}
        sweep["trials"] = [_trial(t, run_of.get(t.number)) for t in asked]
    return sweep


_REQUEST_FIELDS = (
    "recipe",
    "params",
    "space",
    "callbacks",
    "objective",
    "direction",
    "parallel",
    "sampler",
    "pruner",
    "startup_trials",
    "warmup_epochs",
    "seed",
)


def _best(trials: Sequence[FrozenTrial], direction: str) -> dict[str, Any] | None:
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    if not complete:
        return None
    sign = 1.0 if direction == "max" else -1.0
    best = max(complete, key=lambda t: sign * (t.value or 0.0))
    return {
        "run_id": best.user_attrs.get(RUN_ID),
        "number": best.number,
        "value": finite(best.value),
        "params": plain(best.params),
    }


def _trial(trial: FrozenTrial, run: RunRow | None) -> dict[str, Any]:
    return {
        "number": trial.number,
        "run_id": run.id if run is not None else trial.user_attrs.get(RUN_ID),
        "state": trial.state.name.lower(),
        "run_status": run.status if run is not None else None,
        "value": finite(trial.value) if trial.value is not None else None,
        "params": plain(trial.params),
        "intermediate": [
            [step, finite(value)] for step, value in sorted(trial.intermediate_values.items())
        ],
        "retry_of": trial.user_attrs.get(RETRY_OF),
        "retried": bool(trial.user_attrs.get(RETRIED)),
        "started_at": _utc(trial.datetime_start),
        "finished_at": _utc(trial.datetime_complete),
    }


def _utc(moment: datetime | None) -> datetime | None:
    """Optuna's naive local time as an aware UTC one, like every other time in the API."""
    return moment.astimezone(timezone.utc) if moment is not None else None


def importances(study: optuna.Study) -> dict[str, float]:
    """Each searched parameter's importance for the objective (Optuna's fANOVA, seeded so
    that the page does not change on reload); empty below two finished trials."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return {}
    try:
        found = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    except (ValueError, RuntimeError):  # e.g. every finished trial has the same params
        return {}
    return {name: float(value) for name, value in found.items()}
