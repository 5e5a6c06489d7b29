"""RayBackend (`FITBOARD_BACKEND=ray`): each run trains in a Ray actor of its own.

A run's actor is named after it (`run-<id>` in the `fitboard` namespace) and asks Ray for
the run's CPUs and GPUs; the run stays `queued` until Ray places it, so a full cluster
queues and a free one runs more at once. The server keeps one driver thread per run:

    submit ─▶ create the actor ─▶ wait until placed ─▶ reporter.begin(run, placement)
          ─▶ actor.execute(launch)          (one call for the whole fit, on the actor)
          ─▶ until it returns: actor.drain() (a long poll: many messages per call)
                                ─▶ reporter.publish / reporter.held, in order
          ─▶ reporter.end(run, outcome) ─▶ kill the actor

Commands are actor calls that the actor serves while it trains (a threaded actor), applied
by the same `RunExecution` as on threads, at the next batch boundary: `ray.cancel` cannot
interrupt a running method of a sync actor, and the Runner's flag needs none.

If the actor's process dies (SIGKILL, out of memory, its node lost), the run ends at once
with Ray's cause: `interrupted` when it left a checkpoint (resume places it again, on any
node), else `failed`. Every actor is killed when its run ends or the server shuts down, so
no named actor outlives the server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

from app.live.messages import StopSource, stop_reason_dict
from app.runs.backends.base import (
    Command,
    CommandRefused,
    Launch,
    Resources,
    RunOutcome,
    RunReporter,
    Stop,
)
from app.runs.backends.mailbox import Entry, Held, Published
from app.runs.backends.ray_actor import RunActor
from app.runs.checkpoints import latest_checkpoint

__all__ = ["NAMESPACE", "RayBackend", "actor_name", "import_ray"]

log = logging.getLogger(__name__)

NAMESPACE = "fitboard"
# Concurrent calls an actor serves: `execute` holds one for the whole fit; `drain`, a
# command and a spare for a second command.
ACTOR_CONCURRENCY = 4
DRAIN_WAIT = 0.1  # seconds a drain waits for a first message: the live view's extra latency
CONTROL_TIMEOUT = 30.0  # an actor call that takes longer has a stuck actor behind it
PLACEMENT_POLL = 0.5  # how often a waiting driver looks whether the server is closing


def actor_name(run_id: str) -> str:
    """The name of a run's actor in the `fitboard` namespace."""
    return f"run-{run_id}"


def import_ray() -> ModuleType:
    """Ray, or an error that says how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError(
            "FITBOARD_BACKEND=ray needs Ray, which is not installed: pip install 'fitboard[ray]'"
        ) from exc
    return ray


@dataclass
class _ActorRun:
    """A run this backend drives: its actor once created, and whether Ray has placed it."""

    actor: Any = None
    placed: bool = False
    thread: threading.Thread | None = None


class RayBackend:
    """Runs as Ray actors, on a local Ray started here (`address` None) or a cluster."""

    name = "ray"

    def __init__(
        self,
        *,
        address: str | None,
        recipe_modules: Sequence[str] = (),
        torch_threads: int = 1,
    ) -> None:
        self.ray = import_ray()
        self.address = address
        self.recipe_modules, self.torch_threads = list(recipe_modules), torch_threads
        self._actor_class: Any = None
        self._reporter: RunReporter | None = None
        self._runs: dict[str, _ActorRun] = {}
        self._lock = threading.Lock()  # guards _runs and _closing; never held calling Ray
        self._closing = False
        self._started_ray = False

    # --- RunBackend -------------------------------------------------------------------------

    def start(self, reporter: RunReporter) -> None:
        self._reporter = reporter
        ray = self.ray
        if not ray.is_initialized():
            # Called off the main thread (the lifespan's worker thread), where ray.init leaves
            # SIGTERM to uvicorn: the graceful stop keeps working.
            if self.address is None:
                ray.init(include_dashboard=False, namespace=NAMESPACE, log_to_driver=False)
            else:
                ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=False)
            self._started_ray = True
        self._actor_class = ray.remote(max_concurrency=ACTOR_CONCURRENCY)(RunActor)

    def submit(self, run_id: str, resources: Resources) -> None:
        run = _ActorRun()
        thread = threading.Thread(
            target=self._drive, args=(run_id, resources, run), name=f"ray-run-{run_id}", daemon=True
        )
        run.thread = thread
        with self._lock:
            if self._closing:
                return
            self._runs[run_id] = run
        thread.start()

    def control(self, run_id: str, command: Command) -> bool:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None or not run.placed:  # still waiting for Ray: the manager cancels it
            return False
        try:
            self.ray.get(run.actor.control.remote(command), timeout=CONTROL_TIMEOUT)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, CommandRefused):
                raise CommandRefused(str(exc.cause)) from None
            raise
        except self.ray.exceptions.RayActorError:
            return False  # its process died: the driver thread is ending the run
        return True

    def shutdown(self, timeout: float) -> None:
        with self._lock:
            self._closing = True
            runs = dict(self._runs)
        stop = Stop(StopSource.SHUTDOWN, "the server is shutting down")
        for run_id in runs:
            try:
                self.control(run_id, stop)
            except Exception:  # one stuck actor must not keep the others running
                log.warning("run %s: could not ask its actor to stop", run_id, exc_info=True)
        for run in runs.values():
            if run.thread is not None:
                run.thread.join(timeout)
        for run in runs.values():  # still waiting for placement, or stuck: no orphan actors
            self._kill(run)
        if self._started_ray:
            self.ray.shutdown()

    def capacity(self) -> Resources:
        nodes = [node for node in self.ray.nodes() if node.get("Alive")]
        cpus = max((node["Resources"].get("CPU", 0.0) for node in nodes), default=0.0)
        gpus = max((node["Resources"].get("GPU", 0.0) for node in nodes), default=0.0)
        return Resources(cpus=cpus, gpus=gpus)

    def describe(self) -> dict[str, Any]:
        total = self.ray.cluster_resources()
        with self._lock:
            driven = len(self._runs)
        return {
            "backend": self.name,
            # Runs at once if each asks one CPU; the cluster's own scheduler has the last word.
            "workers": int(total.get("CPU", 0)),
            "cluster": {"cpus": total.get("CPU", 0.0), "gpus": total.get("GPU", 0.0)},
            "actors": driven,
        }

    # --- one run's driver thread ------------------------------------------------------------

    def _drive(self, run_id: str, resources: Resources, run: _ActorRun) -> None:
        reporter = self._reporter
        assert reporter is not None, "RayBackend.start() has not run"
        try:
            run.actor = self._actor_class.options(
                name=actor_name(run_id),
                namespace=NAMESPACE,
                num_cpus=resources.cpus,
                num_gpus=resources.gpus,
            ).remote(self.recipe_modules, self.torch_threads)
            placement = self._wait_until_placed(run)
            if placement is None:
                return
            run.placed = True
            launch = reporter.begin(run_id, placement)
            if launch is None:
                return
            reporter.end(run_id, self._execute(run_id, run, launch, reporter))
        except Exception:  # a bug here must not leave the run `running` for ever
            log.exception("run %s: unexpected error in the Ray backend", run_id)
        finally:
            self._kill(run)
            with self._lock:
                self._runs.pop(run_id, None)

    def _wait_until_placed(self, run: _ActorRun) -> Any:
        """The actor's Placement once Ray has placed it; None if the server closes first."""
        ready = run.actor.placement.remote()
        while True:
            done, _ = self.ray.wait([ready], timeout=PLACEMENT_POLL)
            if done:
                return self.ray.get(ready)
            with self._lock:
                if self._closing:
                    return None

    def _execute(
        self, run_id: str, run: _ActorRun, launch: Launch, reporter: RunReporter
    ) -> RunOutcome:
        """Fit the run on its actor, relaying what it says until it ends; how it ended."""
        ray = self.ray
        fit = run.actor.execute.remote(launch)
        last_epoch: dict[str, Any] | None = None
        try:
            while True:
                finished = bool(ray.wait([fit], timeout=0)[0])
                # After `execute` returned, one more drain takes what it said last.
                entries = ray.get(run.actor.drain.remote(0 if finished else DRAIN_WAIT))
                last_epoch = self._relay(run_id, entries, reporter) or last_epoch
                if finished:
                    break
            outcome: RunOutcome = ray.get(fit)
        except ray.exceptions.RayActorError as exc:
            return _lost(launch, exc, last_epoch)
        # The hub's numbered copy, as the thread backend reports it.
        return replace(outcome, last_epoch=last_epoch) if last_epoch else outcome

    @staticmethod
    def _relay(run_id: str, entries: list[Entry], reporter: RunReporter) -> dict[str, Any] | None:
        """Hand the entries to the reporter in order; the last epoch message, as numbered."""
        last_epoch = None
        for entry in entries:
            if isinstance(entry, Published):
                numbered = reporter.publish(run_id, entry.message)
                if entry.message.get("type") == "epoch":
                    last_epoch = numbered
            elif isinstance(entry, Held):
                reporter.held(run_id, entry.paused, entry.epoch, entry.iter)
        return last_epoch

    def _kill(self, run: _ActorRun) -> None:
        if run.actor is None:
            return
        try:
            self.ray.kill(run.actor, no_restart=True)
        except Exception:  # already dead, or Ray itself is gone
            log.debug("could not kill an actor", exc_info=True)
        run.actor = None


def _lost(launch: Launch, exc: Exception, last_epoch: dict[str, Any] | None) -> RunOutcome:
    """The outcome of a run whose actor died: interrupted if a checkpoint is left to resume
    from, else failed; both say Ray's cause."""
    cause = _first_line(exc)
    if latest_checkpoint(launch.run_dir) is not None:
        message = f"its Ray actor died ({cause}); resume it from its last checkpoint"
        reason = stop_reason_dict(StopSource.LOST.value, message)
        return RunOutcome(stop_reason=reason, last_epoch=last_epoch)
    return RunOutcome(error=f"its Ray actor died: {cause}", last_epoch=last_epoch)


def _first_line(exc: Exception) -> str:
    """Ray's error, short: its type and the sentence that says why the actor died."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    why = next((line for line in lines if line.startswith("The actor is dead")), None)
    text = why or (lines[0] if lines else "")
    return f"{type(exc).__name__}: {text[:300]}"
