"""A run's artifacts, for download: its checkpoints and its per-epoch metrics as CSV or JSON.

A client names a checkpoint by kind (`last` or `best`), never by path: the file is always
`<run dir>/<kind>.pt`, the names the checkpoint callback writes.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel

from app.api.deps import ManagerDep, SettingsDep, StoreDep, guard
from app.api.schemas import GUARDED_RESPONSES, PathId, error_responses

__all__ = ["CheckpointKind", "metric_rows", "router"]

router = APIRouter(
    prefix="/api/runs",
    tags=["artifacts"],
    dependencies=[Depends(guard)],
    responses=GUARDED_RESPONSES,
)
_MISSING = error_responses(404)


class CheckpointKind(str, Enum):
    """Which checkpoint: `last` (rewritten every epoch) or `best` (when the monitor improved)."""

    last = "last"
    best = "best"


class CheckpointFile(BaseModel):
    """A checkpoint a run has: its kind, size and when it was last written."""

    kind: CheckpointKind
    bytes: int
    modified_at: datetime


class Artifacts(BaseModel):
    """What `GET /checkpoint` and the metrics downloads can serve for a run now."""

    checkpoints: list[CheckpointFile]
    epochs: int


@router.get("/{run_id}/artifacts", responses=_MISSING)
def list_artifacts(
    run_id: PathId, manager: ManagerDep, store: StoreDep, settings: SettingsDep
) -> Artifacts:
    """The run's checkpoints on disk and how many epochs its metrics hold."""
    manager.get(run_id)
    run_dir = settings.run_dir(run_id)
    found = []
    for kind in CheckpointKind:
        path = run_dir / f"{kind.value}.pt"
        if path.is_file():
            stat = path.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc)
            found.append(CheckpointFile(kind=kind, bytes=stat.st_size, modified_at=modified))
    return Artifacts(checkpoints=found, epochs=len(store.epoch_events(run_id)))


@router.get(
    "/{run_id}/checkpoint",
    response_class=FileResponse,
    responses=_MISSING | {200: {"content": {"application/octet-stream": {}}}},
)
def download_checkpoint(
    run_id: PathId,
    manager: ManagerDep,
    settings: SettingsDep,
    kind: Annotated[CheckpointKind, Query()] = CheckpointKind.last,
) -> FileResponse:
    """The run's `last.pt` or `best.pt`: a `torch.save` file of plain tensors and numbers that
    `trainer.load_checkpoint` (`torch.load(..., weights_only=True)`) reads."""
    manager.get(run_id)
    path = settings.run_dir(run_id) / f"{kind.value}.pt"
    if not path.is_file():
        detail = f"run {run_id} has no {kind.value}.pt checkpoint (attach `checkpoint` to save one)"
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail)
    return FileResponse(
        path, media_type="application/octet-stream", filename=f"{run_id}-{kind.value}.pt"
    )


@router.get(
    "/{run_id}/metrics.csv",
    response_class=Response,
    responses=_MISSING | {200: {"content": {"text/csv": {}}}},
)
def metrics_csv(run_id: PathId, manager: ManagerDep, store: StoreDep) -> Response:
    """One row per epoch: `epoch` (as in `epoch` messages: from 0, like Keras' and Lightning's
    CSV loggers), `elapsed` (s since the fit began), then `train_<stat>`, `valid_<stat>`."""
    manager.get(run_id)
    rows = metric_rows(store.epoch_events(run_id))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{run_id}-metrics.csv"'},
    )


@router.get("/{run_id}/metrics.json", responses=_MISSING)
def metrics_json(run_id: PathId, manager: ManagerDep, store: StoreDep) -> list[dict[str, Any]]:
    """The rows of `metrics.csv` as JSON objects (`null` where a value was not finite)."""
    manager.get(run_id)
    return metric_rows(store.epoch_events(run_id))


def metric_rows(epochs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flat rows from epoch messages: `{"epoch", "elapsed", "train_loss", ...}`."""
    rows = []
    for message in epochs:
        row: dict[str, Any] = {"epoch": message["epoch"], "elapsed": message.get("elapsed")}
        for phase in ("train", "valid"):
            for name, value in (message.get(phase) or {}).items():
                row[f"{phase}_{name}"] = value
        rows.append(row)
    return rows


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every key of every row, in first-seen order (a metric may appear mid-run)."""
    columns = {"epoch": None, "elapsed": None}
    for row in rows:
        columns |= dict.fromkeys(row)
    return list(columns)
