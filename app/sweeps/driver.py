"""SweepDriver: Optuna's ask-and-tell over ordinary runs.

Each trial is a run created through the `RunManager`, so it trains wherever the run backend
puts it, and is listed, live and stoppable like any other. The driver hears every run's
epoch and final status messages from the hub (`EventHub.observe`, queued to its own thread,
never handled on the training thread):

- an epoch message is the trial's intermediate value (`trial.report`); when the pruner says
  so (`trial.should_prune`), the run is stopped with source `pruner` and ends `pruned`;
- a final status is told to the study: `completed` and `early_stopped` with the last value,
  `pruned` as pruned, anything else (a person stopped it, it failed) as failed, so the search
  goes on; `interrupted` (the server went down) is retried once, with the same params.

Then the driver asks for the next trials, up to `parallel` at once and `n_trials` in all.
A sweep whose process is gone is taken over at start (`start`), like an orphaned run.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import secrets
import threading
from typing import Any, Literal

import optuna
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from app.config import Settings
from app.db.models import RunStatus, SweepRow, SweepStatus
from app.db.sweep_store import SweepStore
from app.live.hub import EventHub
from app.live.messages import StopSource
from app.runs import InvalidRequest, RunManager, RunNotFound, RunStateConflict
from app.runs.owners import owner_is_gone
from app.sweeps.errors import SweepNotFound, SweepStateConflict
from app.sweeps.requests import MAX_TRIALS, SweepChecker, SweepPlan, SweepRequest
from app.sweeps.study import RETRIED, RETRY_OF, RUN_ID, open_storage, open_study, prune_reason
from app.sweeps.summary import describe, importances

__all__ = ["SweepDriver"]

log = logging.getLogger(__name__)

FINISHED = frozenset(status.value for status in RunStatus if status.finished)
SHUTDOWN_TIMEOUT = 10.0


class _Search:
    """A sweep this process drives: its plan, its study, and the trials it has running."""

    def __init__(self, row: SweepRow, plan: SweepPlan, study: optuna.Study, study_id: int):
        self.id, self.name = row.id, row.name
        self.n_trials, self.stopping = row.n_trials, row.stopping
        self.plan, self.study, self.study_id = plan, study, study_id
        self.running: dict[str, optuna.Trial] = {}  # run id -> its trial
        self.values: dict[str, float | None] = {}  # run id -> its last objective value
        self.pruning: set[str] = set()  # run ids asked to stop by the pruner
        # Without a pruner `should_prune` is always False, yet each call reads the whole trial
        # back from the RDB storage (a few ms a trial epoch, on the GIL training needs).
        self.prunes = plan.request.pruner != "none"
        self.counted = _counted(study)  # trials asked that count towards n_trials


class SweepDriver:
    """Creates, drives, stops and describes sweeps; the API's only way to change one."""

    def __init__(self, settings: Settings, runs: RunManager, hub: EventHub, store: SweepStore):
        assert settings.database_url is not None  # Settings fills in the SQLite default
        self.database_url = settings.database_url
        self.runs, self.hub, self.store = runs, hub, store
        self.checker = SweepChecker(runs.requests)
        self._lock = threading.RLock()  # one sweep change at a time, API and messages alike
        self._searches: dict[str, _Search] = {}
        self._by_run: dict[str, _Search] = {}
        self._messages: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._storage: RDBStorage | None = None
        self._closing = False

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Open Optuna's storage, listen to the hub, and take over the running sweeps whose
        process is gone (their interrupted trials are retried once)."""
        self._storage = open_storage(self.database_url)
        self.hub.observe(self._observe)
        self._thread = threading.Thread(target=self._listen, name="sweeps", daemon=True)
        self._thread.start()
        me = self.runs.owner
        for row in self.store.running():
            if owner_is_gone(row.owner, me) and self.store.claim(row.id, row.owner, me):
                with self._lock:
                    self._resume(row)

    def shutdown(self) -> None:
        """Start no more trials; running ones are interrupted by the run manager's shutdown,
        and retried when a server takes the sweep over."""
        with self._lock:
            self._closing = True
        self._messages.put(None)
        if self._thread is not None:
            self._thread.join(SHUTDOWN_TIMEOUT)
        if self._storage is not None:
            self._storage.remove_session()
            self._storage.engine.dispose()

    # --- requests ---------------------------------------------------------------------------

    def create(self, request: SweepRequest) -> dict[str, Any]:
        """Check a sweep request and start its first trials; InvalidRequest names bad fields."""
        plan = self.checker.plan(request, workers=self._workers())
        sweep_id = secrets.token_hex(6)
        with self._lock:
            row = self.store.create(
                sweep_id=sweep_id,
                name=request.name or f"{request.recipe}-sweep-{sweep_id[:6]}",
                request=request.model_dump(mode="json"),
                n_trials=request.n_trials,
                study_name=f"fitboard-sweep-{sweep_id}",
                owner=self.runs.owner,
            )
            search = self._open(row, plan)
            search.study.set_user_attr("fitboard_sweep_id", sweep_id)
            search.study.set_user_attr("objective", request.objective)
            self._fill(search)
        return self.get(sweep_id)

    def get(self, sweep_id: str) -> dict[str, Any]:
        """The sweep with its best trial and every trial; SweepNotFound."""
        row = self._row(sweep_id)
        return describe(row, self._frozen_trials(row), self.store.trial_runs(sweep_id))

    def page(self, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """A page of sweeps, newest first (without their trials), and how many there are."""
        rows, total = self.store.page(limit=limit, offset=offset)
        items = [describe(row, self._frozen_trials(row), [], with_trials=False) for row in rows]
        return items, total

    def importances(self, sweep_id: str) -> dict[str, float]:
        """Optuna's parameter importances for the objective (empty below two finished trials)."""
        row = self._row(sweep_id)
        assert self._storage is not None, "SweepDriver.start() has not run"
        return importances(optuna.load_study(study_name=row.study_name, storage=self._storage))

    def stop(self, sweep_id: str, trials: Literal["finish", "stop"] = "finish") -> dict[str, Any]:
        """Start no more trials; the running ones finish (`finish`) or are stopped (`stop`,
        told as failed). The sweep is `stopped` once none runs."""
        with self._lock:
            search = self._driven(sweep_id, "stop it")
            search.stopping = True
            self.store.set_status(
                sweep_id, SweepStatus.RUNNING, from_=[SweepStatus.RUNNING], stopping=True
            )
            if trials == "stop":
                for run_id in list(search.running):
                    self._stop_run(run_id, StopSource.USER, "the sweep was stopped")
            self._finish_if_done(search)
        return self.get(sweep_id)

    def add_trials(self, sweep_id: str, n: int) -> dict[str, Any]:
        """Owe `n` more trials: a running sweep goes on to the new total, a completed or
        stopped one runs again."""
        with self._lock:
            row = self._row(sweep_id)
            total = row.n_trials + n
            if total > MAX_TRIALS:
                message = f"the sweep has {row.n_trials} trials; at most {MAX_TRIALS} in all"
                raise InvalidRequest.at(("n",), message)
            if row.status == SweepStatus.RUNNING.value:
                search = self._driven(sweep_id, "add trials")
            elif row.status in (SweepStatus.COMPLETED.value, SweepStatus.STOPPED.value):
                self.store.set_status(
                    sweep_id,
                    SweepStatus.RUNNING,
                    from_=[SweepStatus(row.status)],
                    stopping=False,
                    owner=self.runs.owner,
                )
                search = self._open(self._row(sweep_id), self._plan_of(self._row(sweep_id)))
            else:
                raise SweepStateConflict(sweep_id, row.status, "add trials")
            search.n_trials = total
            self.store.set_status(
                sweep_id, SweepStatus.RUNNING, from_=[SweepStatus.RUNNING], n_trials=total
            )
            self._fill(search)
        return self.get(sweep_id)

    # --- messages from the hub --------------------------------------------------------------

    def _observe(self, message: dict[str, Any]) -> None:
        """On the publishing thread, under the hub's lock: only queue what matters."""
        kind = message["type"]
        if kind == "epoch" or (kind == "status" and message["status"] in FINISHED):
            self._messages.put(message)

    def _listen(self) -> None:
        while (message := self._messages.get()) is not None:
            try:
                self._handle(message)
            except Exception:  # one sweep's trouble must not end every sweep's driver
                log.exception("sweeps: handling a message of run %s failed", message["run_id"])

    def _handle(self, message: dict[str, Any]) -> None:
        with self._lock:
            search = self._by_run.get(message["run_id"])
            if search is None or self._closing:
                return
            if message["type"] == "epoch":
                self._report(search, message)
                return
            run_id = message["run_id"]
            trial = search.running.pop(run_id)
            del self._by_run[run_id]
            search.pruning.discard(run_id)
            value = search.values.pop(run_id, None)
            retry = RETRY_OF not in trial.user_attrs
            self._tell(search, trial.number, message["status"], value, trial.params, retry)
            self._fill(search)

    def _report(self, search: _Search, message: dict[str, Any]) -> None:
        run_id, epoch = message["run_id"], message["epoch"]
        trial = search.running[run_id]
        value = search.plan.objective.value(message)
        search.values[run_id] = value
        reported = math.nan if value is None else value  # NaN: the pruners prune it
        trial.report(reported, epoch)
        if not search.prunes or run_id in search.pruning or not trial.should_prune():
            return
        text, details = prune_reason(search.study, search.plan.request, trial, epoch, reported)
        search.pruning.add(run_id)
        self._stop_run(run_id, StopSource.PRUNER, text, details)

    # --- asking and telling -----------------------------------------------------------------

    def _fill(self, search: _Search) -> None:
        """Ask for trials until `parallel` run, or the sweep has all it owes."""
        limit = min(search.plan.request.parallel, self._workers())
        while (
            not self._closing
            and not search.stopping
            and len(search.running) < limit
            and search.counted < search.n_trials
        ):
            trial = search.study.ask(search.plan.distributions)
            search.counted += 1
            self._launch(search, trial)
        self._finish_if_done(search)

    def _launch(self, search: _Search, trial: optuna.Trial) -> None:
        request = search.plan.request
        params = {**request.params, **trial.params}
        callbacks = [(cb.name, cb.params) for cb in request.callbacks]
        name = f"{search.name} #{trial.number}"
        try:
            run_request = self.runs.requests.run(request.recipe, params, callbacks, name)
        except InvalidRequest as exc:  # params the recipe refuses together (its own rules)
            trial.set_user_attr("fitboard_error", str(exc))
            search.study.tell(trial, state=TrialState.FAIL)
            return
        row = self.runs.create_checked(run_request, trial=(search.id, trial.number))
        trial.set_user_attr(RUN_ID, row.id)
        search.running[row.id] = trial
        self._by_run[row.id] = search

    def _tell(
        self,
        search: _Search,
        number: int,
        status: str,
        value: float | None,
        params: dict[str, Any],
        retry: bool,
    ) -> None:
        """Tell the study how the trial's run ended."""
        study = search.study
        ran_to_an_end = status in (RunStatus.COMPLETED.value, RunStatus.EARLY_STOPPED.value)
        if ran_to_an_end and value is not None:
            study.tell(number, value)
            return
        if status == RunStatus.PRUNED.value:
            study.tell(number, state=TrialState.PRUNED)
            return
        if status == RunStatus.INTERRUPTED.value and retry:
            self._set_user_attr(search, number, RETRIED, True)
            search.counted -= 1  # its retry counts instead
            study.enqueue_trial(params, user_attrs={RETRY_OF: number})
        study.tell(number, state=TrialState.FAIL)

    def _finish_if_done(self, search: _Search) -> None:
        if search.running or self._closing:
            return
        if not search.stopping and search.counted < search.n_trials:
            return
        status = SweepStatus.STOPPED if search.stopping else SweepStatus.COMPLETED
        self.store.set_status(search.id, status, from_=[SweepStatus.RUNNING])
        del self._searches[search.id]

    # --- helpers ----------------------------------------------------------------------------

    def _resume(self, row: SweepRow) -> None:
        """Drive a sweep a gone process left: settle its trials that were running, go on."""
        try:
            search = self._open(row, self._plan_of(row))
        except InvalidRequest as exc:  # its recipe or callbacks are gone, or changed
            self.store.set_status(row.id, SweepStatus.FAILED, error=f"cannot resume: {exc}")
            return
        for frozen in search.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            run_id = frozen.user_attrs.get(RUN_ID)
            run = self.runs.store.get_run(run_id) if run_id else None
            if run is not None and not RunStatus(run.status).finished:
                continue  # another live process trains it
            status = run.status if run is not None else RunStatus.INTERRUPTED.value
            value = search.plan.objective.value(run.latest or {}) if run is not None else None
            retry = RETRY_OF not in frozen.user_attrs
            self._tell(search, frozen.number, status, value, frozen.params, retry)
        log.info("sweeps: resumed sweep %s", row.id)
        self._fill(search)

    def _open(self, row: SweepRow, plan: SweepPlan) -> _Search:
        assert self._storage is not None, "SweepDriver.start() has not run"
        study = open_study(self._storage, row.study_name, plan)
        study_id = self._storage.get_study_id_from_name(row.study_name)
        search = self._searches[row.id] = _Search(row, plan, study, study_id)
        return search

    def _plan_of(self, row: SweepRow) -> SweepPlan:
        return self.checker.plan(SweepRequest.model_validate(row.request))

    def _row(self, sweep_id: str) -> SweepRow:
        row = self.store.get(sweep_id)
        if row is None:
            raise SweepNotFound(f"no sweep with id {sweep_id!r}")
        return row

    def _driven(self, sweep_id: str, action: str) -> _Search:
        """The running sweep this process drives, or SweepStateConflict naming its state."""
        row = self._row(sweep_id)
        search = self._searches.get(sweep_id)
        if row.status != SweepStatus.RUNNING.value:
            raise SweepStateConflict(sweep_id, row.status, action)
        if search is None:
            raise SweepStateConflict(sweep_id, "running in another fitboard process", action)
        if search.stopping:
            raise SweepStateConflict(sweep_id, "stopping", action)
        return search

    def _frozen_trials(self, row: SweepRow) -> list[optuna.trial.FrozenTrial]:
        assert self._storage is not None, "SweepDriver.start() has not run"
        search = self._searches.get(row.id)
        if search is not None:
            # The study's own storage caches finished trials and reads back only the others:
            # the sweep page polls this every second while the sweep trains on this process.
            return search.study.get_trials(deepcopy=False)
        study_id = self._storage.get_study_id_from_name(row.study_name)
        return self._storage.get_all_trials(study_id, deepcopy=False)

    def _set_user_attr(self, search: _Search, number: int, key: str, value: Any) -> None:
        assert self._storage is not None
        trial_id = self._storage.get_trial_id_from_study_id_trial_number(search.study_id, number)
        self._storage.set_trial_user_attr(trial_id, key, value)

    def _stop_run(
        self, run_id: str, source: StopSource, message: str, details: dict[str, Any] | None = None
    ) -> None:
        with contextlib.suppress(RunStateConflict, RunNotFound):  # it ended meanwhile
            self.runs.stop(run_id, source, message, details)

    def _workers(self) -> int:
        return int(self.runs.load()["workers"])


def _counted(study: optuna.Study) -> int:
    """Trials asked so far that count towards n_trials (not the retried ones)."""
    trials = study.get_trials(deepcopy=False)
    return sum(1 for t in trials if t.state != TrialState.WAITING and not t.user_attrs.get(RETRIED))
