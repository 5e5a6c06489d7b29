"""The reporting protocol's client frames, checked: what a run trained outside the server may
send up its socket (docs/api.md, "Reporting a run trained elsewhere").

A frame is one JSON object. `hello` opens the session with the run's write key; `report`
carries a batch of the run's messages, each numbered and timed by the client (`seq`, `time`)
and shaped as the builders of `trainer.reporting.messages` shape them; an empty batch is a
heartbeat. Every field is typed and bounded, so a frame is either wholly valid or refused
with a reason that names the offending field, before anything of it is stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from app.api.schemas import MAX_SEQ
from app.api.storable import storable_json, storable_text

__all__ = [
    "MAX_FRAME_BYTES",
    "MAX_MESSAGES_PER_FRAME",
    "Hello",
    "ProtocolError",
    "Report",
    "new_messages",
    "parse_hello",
    "parse_report",
]

MAX_FRAME_BYTES = 1 << 20  # a full frame of epoch messages with their curves fits easily
MAX_MESSAGES_PER_FRAME = 1000
MAX_CURVE_POINTS = 10_000  # an epoch's `batches` columns (the client sends at most 100)
MAX_STATS = 64  # names in an epoch's `train` / `valid`
LATEST_TIME = 1e11  # seconds since 1970: year 5138; a bound, not a clock check


class ProtocolError(Exception):
    """A frame the server refuses; the message is the WebSocket close reason."""


Text = Annotated[str, Field(max_length=1000), AfterValidator(storable_text)]
Name = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(storable_text)]
Number = Annotated[float, Field(allow_inf_nan=False, ge=-1e300, le=1e300)]
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_SEQ)]
Stats = Annotated[dict[Name, Number | None], Field(max_length=MAX_STATS)]
JSONObject = Annotated[dict[str, Any], AfterValidator(storable_json)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Numbered(_Strict):
    """The envelope the client adds: its seq (from 1, no gaps) and when the message was made."""

    seq: Annotated[int, Field(strict=True, ge=1, le=MAX_SEQ)]
    time: Annotated[float, Field(ge=0, le=LATEST_TIME)]


class StopReasonIn(_Strict):
    source: Name
    message: Text
    epoch: Count | None = None
    iter: Count | None = None
    details: JSONObject = Field(default_factory=dict)


class StatusIn(_Numbered):
    type: Literal["status"]
    # `queued` and `interrupted` are the server's to say, never a client's.
    status: Literal["running", "paused", "completed", "stopped", "early_stopped", "failed"]
    stop_reason: StopReasonIn | None = None
    error: Annotated[str, Field(max_length=10_000), AfterValidator(storable_text)] | None = None
    epoch: Count | None = None
    iter: Count | None = None


class BatchIn(_Numbered):
    type: Literal["batch"]
    epoch: Count
    iter: Count
    loss: Number | None
    lr: Number | None


class Curve(_Strict):
    iter: Annotated[list[Count], Field(max_length=MAX_CURVE_POINTS)]
    loss: Annotated[list[Number | None], Field(max_length=MAX_CURVE_POINTS)]
    lr: Annotated[list[Number | None], Field(max_length=MAX_CURVE_POINTS)]


class EpochIn(_Numbered):
    type: Literal["epoch"]
    epoch: Count
    train: Stats
    valid: Stats
    elapsed: Annotated[float, Field(ge=0, le=LATEST_TIME)]
    batches: Curve | None = None


class EarlyStopIn(_Numbered):
    type: Literal["early_stop"]
    epoch: Count | None
    iter: Count | None
    reason: Text
    source: Name
    monitor: Name | None
    value: Number | None


class HyperIn(_Numbered):
    type: Literal["hyper"]
    values: Stats
    missing: Annotated[list[Name], Field(max_length=MAX_STATS)]
    epoch: Count
    iter: Count


class EvaluationIn(_Numbered):
    type: Literal["evaluation"]
    epoch: Count
    iter: Count
    valid: Stats


class CallbackIn(_Numbered):
    type: Literal["callback"]
    action: Literal["attached", "detached"]
    id: Name
    name: Name
    params: JSONObject


MessageIn = Annotated[
    StatusIn | BatchIn | EpochIn | EarlyStopIn | HyperIn | EvaluationIn | CallbackIn,
    Field(discriminator="type"),
]


class Hello(_Strict):
    """The first frame: the run's write key, as `POST /api/external/runs` gave it."""

    type: Literal["hello"]
    key: Annotated[str, Field(min_length=1, max_length=200)]


class Report(_Strict):
    """A batch of the run's messages in seq order (empty: a heartbeat)."""

    type: Literal["report"]
    messages: Annotated[list[MessageIn], Field(max_length=MAX_MESSAGES_PER_FRAME)]


_HELLO = TypeAdapter(Hello)
_REPORT = TypeAdapter(Report)


def _decoded(text: str | None) -> Any:
    if text is None:
        raise ProtocolError("binary frame: frames are JSON text")
    if len(text) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame larger than {MAX_FRAME_BYTES} bytes")
    try:
        return json.loads(text)
    except ValueError:
        raise ProtocolError("frame is not JSON") from None


def _refusal(exc: ValidationError) -> ProtocolError:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return ProtocolError(f"{where}: {first['msg']}")


def parse_hello(text: str | None) -> Hello:
    """The opening frame, or ProtocolError."""
    try:
        return _HELLO.validate_python(_decoded(text))
    except ValidationError as exc:
        raise _refusal(exc) from None


def parse_report(text: str | None) -> list[dict[str, Any]]:
    """A report frame's messages as plain dicts (unset optional fields left out, as the
    builders leave them out), or ProtocolError naming the first bad field."""
    try:
        report = _REPORT.validate_python(_decoded(text))
    except ValidationError as exc:
        raise _refusal(exc) from None
    return [message.model_dump(mode="json", exclude_unset=True) for message in report.messages]


def new_messages(messages: Sequence[dict[str, Any]], last_seq: int) -> list[dict[str, Any]]:
    """The messages after `last_seq` (the last one stored), checked to go on from it with no
    gap and no repeat. Messages up to `last_seq` are resends of stored ones: skipped, but
    only at the head of the batch, where a client that lost an ack resends them."""
    expected, previous = last_seq + 1, 0
    fresh: list[dict[str, Any]] = []
    for message in messages:
        seq = message["seq"]
        if seq <= previous:
            raise ProtocolError(f"seq {seq} out of order: after {previous}")
        previous = seq
        if seq < expected and not fresh:
            continue  # already stored: acknowledged again, stored once
        if seq != expected:
            raise ProtocolError(f"seq {seq} out of order: expected {expected}")
        fresh.append(message)
        expected += 1
    return fresh
