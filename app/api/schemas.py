"""Request and response bodies of the JSON API (docs/api.md describes them for people), the
bounds of its query parameters, and the error responses each route documents."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.api.storable import storable_json, storable_text
from app.catalog import ENTRY_NAME_MAX_LENGTH, ENTRY_NAME_PATTERN

__all__ = [
    "GUARDED_RESPONSES",
    "MAX_OFFSET",
    "MAX_SEQ",
    "CallbackIn",
    "CallbackOut",
    "ConflictOut",
    "ErrorOut",
    "Metrics",
    "PathId",
    "RunCreate",
    "RunOut",
    "RunPage",
    "error_responses",
]

MAX_CALLBACKS = 32
# The largest seq and offset a query may name: the events table's seq column (and the
# offset SQLite and PostgreSQL bind) is a 32-bit integer on PostgreSQL, so anything larger
# would fail in the database (a 500) instead of a 422. The WebSocket's `after_seq` uses it too.
MAX_SEQ = 2**31 - 1
MAX_OFFSET = 2**31 - 1

# Run and callback ids are short hex strings; anything outside this cannot be one, so it is
# refused before it reaches the database (a NUL in a path would make PostgreSQL fail).
PathId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")]

JSONObject = Annotated[dict[str, Any], AfterValidator(storable_json)]
EntryName = Annotated[
    str, Field(min_length=1, max_length=ENTRY_NAME_MAX_LENGTH, pattern=ENTRY_NAME_PATTERN)
]


class CallbackIn(BaseModel):
    """A catalog callback to attach: its name and its parameters."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "early_stopping", "params": {"patience": 2}}]},
    )

    name: EntryName
    params: JSONObject = Field(default_factory=dict)


class ResourcesIn(BaseModel):
    """What one run asks of the machine that executes it; unset fields take the server's
    defaults (`FITBOARD_RUN_CPUS`, `FITBOARD_RUN_GPUS`). On Ray the run waits `queued` until
    a node has them free; a request larger than any node is a 422."""

    # strict: a JSON `false` is not 0 CPUs (lax mode would take it).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    cpus: float | None = Field(None, ge=0, le=1024)
    gpus: float | None = Field(None, ge=0, le=64)


class RunCreate(BaseModel):
    """A request to start a run."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "recipe": "mlp",
                    "params": {"epochs": 1, "lr": 0.3},
                    "callbacks": [{"name": "terminate_on_nan"}],
                    "name": "first try",
                }
            ]
        },
    )

    recipe: EntryName
    params: JSONObject = Field(default_factory=dict)
    callbacks: list[CallbackIn] = Field(default_factory=list, max_length=MAX_CALLBACKS)
    name: Annotated[str, AfterValidator(storable_text)] | None = Field(
        None, min_length=1, max_length=200
    )
    resources: ResourcesIn | None = None


class LRFindCreate(BaseModel):
    """A request to find a learning rate for a recipe: a short run of its own."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"recipe": "mlp", "params": {"bs": 64}}]},
    )

    recipe: EntryName
    params: JSONObject = Field(
        default_factory=dict, description="The recipe's parameters; `epochs` is the sweep's."
    )
    finder: JSONObject = Field(
        default_factory=dict,
        description="The sweep: `max_iter` (100), `min_lr` (1e-7), `max_lr` (10).",
    )
    resources: ResourcesIn | None = None


class LRFindResult(BaseModel):
    """An LR finder's sweep, one point per training batch, and the lr it suggests."""

    lr: list[float | None]
    loss: list[float | None]
    suggestion: dict[str, Any] = Field(
        description="`lr` to use, `rule` that chose it (`steepest`: where the smoothed loss "
        "falls fastest, before its minimum; `minimum/10` when it never descends), and both "
        "rules' values: `steepest`, `minimum`."
    )


class CallbackOut(BaseModel):
    """A callback attached to a run."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    params: dict[str, Any]
    attached_at: datetime


class RunOut(BaseModel):
    """A run: its request, its state and its latest epoch message."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    status: str
    recipe: str
    params: dict[str, Any]
    callbacks: list[CallbackOut]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    stop_reason: dict[str, Any] | None
    error: str | None
    latest: dict[str, Any] | None
    resources: dict[str, Any] | None = Field(
        None, description="What the run asked of its executor: `cpus`, `gpus`."
    )
    placement: dict[str, Any] | None = Field(
        None,
        description="Where the run executes or last executed: `backend`, `host`, `pid`, "
        "`node` (Ray's node id); null until it begins.",
    )
    sweep_id: str | None = Field(None, description="The sweep this run is a trial of.")
    trial_number: int | None = Field(None, description="Its Optuna trial number.")
    external: bool = Field(
        False, description="Trained outside the server by a client that reports to it."
    )
    owner: str | None = Field(
        None, description="`<host>:<pid>` of the process that trains the run."
    )
    parent_id: str | None = Field(None, description="The run this one was forked from.")
    fork_point: dict[str, Any] | None = Field(
        None,
        description="Where the fork started: `epoch` (from 0) it continued in, `batch` (of "
        "that epoch, already done), `iter` (training batches done in all), `hypers` it set.",
    )
    tags: list[str] = Field(default_factory=list)
    note: str = ""
    duration: float = Field(
        0.0, description="Seconds spent running, pauses and server downtime left out."
    )

    @model_validator(mode="after")
    def _running_stretch(self) -> RunOut:
        """A running run's duration goes on: the stretch since `started_at` is on top."""
        if self.status == "running" and self.started_at is not None:
            self.duration += max(
                0.0, (datetime.now(timezone.utc) - self.started_at).total_seconds()
            )
        return self


class RunPage(BaseModel):
    """One page of runs, in the order asked for (newest first by default)."""

    items: list[RunOut]
    total: int
    limit: int
    offset: int
    next: str | None = Field(None, description="`after=` this for the next page; null at the end.")
    prev: str | None = Field(None, description="`before=` this for the page before; null first.")


class Metrics(BaseModel):
    """A run's per-epoch stats and its (downsampled) batch loss history."""

    epochs: list[dict[str, Any]]
    batches: list[dict[str, Any]]


class ErrorOut(BaseModel):
    """An error other than a validation error: what went wrong, in words."""

    detail: str


class ConflictOut(ErrorOut):
    """A 409: the run's state does not allow the action."""

    status: str = Field(description="The run's state, e.g. `completed`.")


_ERROR_DESCRIPTIONS = {
    400: "The Host header is not a name of this server (FITBOARD_ALLOWED_HOSTS), or the body "
    "could not be parsed.",
    401: "FITBOARD_TOKEN is set and the request did not carry it (`Authorization: Bearer`).",
    403: "A browser page of another origin (FITBOARD_ALLOWED_ORIGINS).",
    404: "No such run (or no such callback or file of the run).",
    409: "The run's state does not allow this; `status` names the state.",
    413: "The body is larger than FITBOARD_MAX_BODY_BYTES.",
    503: "The database does not answer; try again after `Retry-After` seconds.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for these error status codes, each with its body model."""
    return {
        code: {
            "model": ConflictOut if code == 409 else ErrorOut,
            "description": _ERROR_DESCRIPTIONS[code],
        }
        for code in codes
    }


# What any route behind `guard` may answer, whatever it does (503: its database is down).
GUARDED_RESPONSES = error_responses(400, 401, 403, 503)
