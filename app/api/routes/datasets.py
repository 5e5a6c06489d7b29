"""Datasets of your own: CSV and .npz files in FITBOARD_DATASETS_DIR, listed and uploaded.

An upload is the file's bytes as the body (`text/csv`, or `application/octet-stream` for an
.npz), at most FITBOARD_MAX_BODY_BYTES like any body. It is checked before it is written: a
CSV to be a table (UTF-8, a header, at least ten rows of as many fields), an .npz to open
with `allow_pickle=False` and hold plain arrays only (never unpickled). It never replaces a
file already there.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.api.deps import SettingsDep, guard
from app.api.schemas import GUARDED_RESPONSES, ErrorOut, error_responses
from trainer.datasets import MIN_TABLE_ROWS, npz_array, open_npz

__all__ = ["DatasetFile", "router"]

router = APIRouter(
    prefix="/api/datasets",
    tags=["datasets"],
    dependencies=[Depends(guard)],
    responses=GUARDED_RESPONSES,
)

DatasetName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.(csv|npz)$")]
SUFFIXES = ("*.csv", "*.npz")
# An uploaded .npz is read whole to check it: bound what its compressed bytes may unpack to.
NPZ_UPLOAD_MAX_UNPACKED = 256 * 1024 * 1024


class DatasetFile(BaseModel):
    """A dataset file in the datasets directory: its name (the `data_path` to train on),
    size, rows (a CSV's without the header; an .npz's in its `x` array, or its first) and
    columns (a CSV's column names; an .npz's array names)."""

    name: str
    bytes: int
    rows: int
    columns: list[str]


@router.get("")
def list_datasets(settings: SettingsDep) -> list[DatasetFile]:
    """The CSV and .npz files at the top of FITBOARD_DATASETS_DIR, by name."""
    assert settings.datasets_dir is not None
    if not settings.datasets_dir.is_dir():
        return []
    found = []
    paths = sorted(path for pattern in SUFFIXES for path in settings.datasets_dir.glob(pattern))
    for path in paths:
        try:
            found.append(_describe(path.name, path.read_bytes()))
        except (OSError, ValueError):
            continue  # not a table this page can offer
    return found


@router.put(
    "/{name}",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(413)
    | {409: {"model": ErrorOut, "description": "A dataset of that name exists."}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def upload_dataset(name: DatasetName, request: Request, settings: SettingsDep) -> DatasetFile:
    """Write the body, a CSV table or an .npz of arrays, to FITBOARD_DATASETS_DIR/`name`;
    409 if that file exists, 422 (at `body`) when the bytes are not what the name says."""
    assert settings.datasets_dir is not None
    content = await request.body()
    try:
        # Unpacking an .npz takes a while: off the event loop.
        described = await run_in_threadpool(_describe, name, content)
    except ValueError as exc:
        error = {"type": "value_error", "loc": ("body",), "msg": str(exc), "input": None}
        raise RequestValidationError([error]) from None
    target = settings.datasets_dir / name
    if target.exists():
        detail = f"dataset {name} already exists: upload under another name"
        raise HTTPException(status.HTTP_409_CONFLICT, detail)
    settings.datasets_dir.mkdir(parents=True, exist_ok=True)
    # Written beside it, then linked in: a reader never sees half a file, and a file that
    # appeared meanwhile is not replaced (os.link refuses an existing name).
    with tempfile.NamedTemporaryFile(dir=settings.datasets_dir, suffix=".part") as part:
        part.write(content)
        part.flush()
        try:
            os.link(part.name, target)
        except FileExistsError:
            detail = f"dataset {name} already exists: upload under another name"
            raise HTTPException(status.HTTP_409_CONFLICT, detail) from None
    return described


def _describe(name: str, content: bytes) -> DatasetFile:
    """The dataset in `content` (by `name`'s suffix), or ValueError saying why it is not one."""
    if name.lower().endswith(".npz"):
        return _describe_npz(name, content)
    return _describe_table(name, content)


def _describe_npz(name: str, content: bytes) -> DatasetFile:
    """The arrays of an .npz, each read with `allow_pickle=False` (an object array is refused)."""
    with open_npz(io.BytesIO(content), NPZ_UPLOAD_MAX_UNPACKED) as npz:
        if not npz.files:
            raise ValueError("is an .npz without arrays")
        arrays = {key: npz_array(npz, key) for key in npz.files}
    for key, array in arrays.items():
        if array.dtype.kind not in "biufUS":
            raise ValueError(f"array {key!r} is {array.dtype}: only numbers and names are read")
    main: np.ndarray = arrays.get("x", next(iter(arrays.values())))
    rows = int(main.shape[0]) if main.ndim else 0
    return DatasetFile(name=name, bytes=len(content), rows=rows, columns=list(arrays))


def _describe_table(name: str, content: bytes) -> DatasetFile:
    """The table in `content`, or ValueError saying why it is not one."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("is not UTF-8 text") from None
    if "\x00" in text:
        raise ValueError("holds NUL characters: not a text table")
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    except csv.Error as exc:
        raise ValueError(f"is not CSV: {exc}") from None
    if not rows or not all(cell.strip() for cell in rows[0]):
        raise ValueError("needs a header row naming every column")
    header = rows[0]
    if len(set(header)) != len(header):
        raise ValueError("names a column twice in its header")
    if len(header) < 2:
        raise ValueError("needs at least two columns: features and a label")
    body = rows[1:]
    if len(body) < MIN_TABLE_ROWS:
        raise ValueError(f"has {len(body)} rows; at least {MIN_TABLE_ROWS} are needed")
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"line {line}: {len(row)} fields, the header has {len(header)}")
    return DatasetFile(name=name, bytes=len(content), rows=len(body), columns=header)
