"""Your own data as an .npz of arrays: trained on, checked before a run starts, uploaded, and
never unpickled."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.fixtures.server import LiveServer, wait_for_status

pytestmark = pytest.mark.timeout(120)


def blobs_npz(n: int = 400, x: str = "x", y: str = "y", **extra: Any) -> bytes:
    """Three well-separated classes of 2x3 inputs, named in `y`, as .npz bytes."""
    rng = np.random.default_rng(0)
    classes = np.array(["setosa", "versicolor", "virginica"])[np.arange(n) % 3]
    inputs = 5.0 * (np.arange(n) % 3)[:, None, None] + rng.normal(size=(n, 2, 3))
    buffer = io.BytesIO()
    np.savez(buffer, **{x: inputs.astype(np.float32), y: classes}, **extra)
    return buffer.getvalue()


class Unpickled:
    """Unpickling it writes a file: proof that nothing unpickles a client's bytes."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def _server(server_factory: Callable[..., LiveServer], tmp_path: Path, **files: bytes):
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    for name, content in files.items():
        (datasets / name).write_bytes(content)
    return server_factory(datasets_dir=datasets)


@pytest.mark.parametrize(
    ("names", "params"),
    [({}, {}), ({"x": "inputs", "y": "kind"}, {"features": "inputs", "label": "kind"})],
)
def test_a_run_trains_on_an_npz_of_your_own(
    server_factory: Callable[..., LiveServer], tmp_path: Path, names: dict, params: dict
) -> None:
    client = _server(server_factory, tmp_path, **{"blobs.npz": blobs_npz(**names)}).client()
    body = {"dataset": "csv", "data_path": "blobs.npz", "epochs": 3, "bs": 16, **params}
    response = client.post("/api/runs", json={"recipe": "mlp", "params": body})
    assert response.status_code == 201, response.text
    run = wait_for_status(client, response.json()["id"], "completed", "failed")
    assert run["status"] == "completed", run["error"]
    assert run["latest"]["valid"]["accuracy"] > 0.9  # the classes are far apart


def _bad_files(marker: Path) -> dict[str, bytes]:
    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros((3, 2)), y=np.zeros(3))
    few = buffer.getvalue()
    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros((20, 2)), y=np.zeros(19))
    uneven = buffer.getvalue()
    buffer = io.BytesIO()
    np.savez(buffer, x=np.array([Unpickled(marker)] * 20, dtype=object), y=np.zeros(20))
    pickled = buffer.getvalue()
    buffer = io.BytesIO()
    np.savez(buffer, x=np.array(["a"] * 20), y=np.zeros(20))
    words = buffer.getvalue()
    return {
        "blobs.npz": blobs_npz(),
        "few.npz": few,
        "uneven.npz": uneven,
        "pickled.npz": pickled,
        "words.npz": words,
        "broken.npz": b"PK not really a zip",
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"data_path": "missing.npz"}, "'missing.npz' does not exist"),
        ({"data_path": "blobs.npz", "features": "inputs"},
         "no array 'inputs'; its arrays: x, y"),
        ({"data_path": "blobs.npz", "label": "kind"}, "has no array 'kind'; its arrays: x, y"),
        ({"data_path": "words.npz"}, "array 'x' must be numeric"),
        ({"data_path": "few.npz"}, "has 3 rows; at least 10 are needed"),
        ({"data_path": "uneven.npz"}, "array 'x' has 20 rows but 'y' has 19"),
        ({"data_path": "pickled.npz"}, "array 'x' must be numeric with one row per example, "
                                       "not object"),
        ({"data_path": "broken.npz"}, "is not an .npz file"),
    ],
)  # fmt: skip
def test_an_npz_request_that_cannot_be_trained_on_is_a_clear_422(
    server_factory: Callable[..., LiveServer], tmp_path: Path, params: dict, message: str
) -> None:
    marker = tmp_path / "unpickled"
    client = _server(server_factory, tmp_path, **_bad_files(marker)).client()
    body = {"dataset": "csv", "epochs": 1, **params}
    response = client.post("/api/runs", json={"recipe": "mlp", "params": body})
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["loc"][:3] == ["body", "params", *error["loc"][2:3]]
    assert message in error["msg"], error
    assert str(tmp_path) not in error["msg"]  # the file as the client named it
    assert client.get("/api/runs").json()["total"] == 0
    assert not marker.exists()


def test_features_is_refused_with_a_csv(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    client = _server(server_factory, tmp_path, **{"t.csv": b"a,label\n" + b"1,x\n" * 10}).client()
    body = {"dataset": "csv", "data_path": "t.csv", "features": "x"}
    response = client.post("/api/runs", json={"recipe": "mlp", "params": body})
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "params", "features"] and ".npz data_path" in error["msg"]


def test_an_npz_uploaded_is_listed_and_never_replaced(server: LiveServer) -> None:
    client = server.client()
    content = blobs_npz(n=30)
    headers = {"Content-Type": "application/octet-stream"}
    response = client.put("/api/datasets/blobs.npz", content=content, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json() == {"name": "blobs.npz", "bytes": len(content), "rows": 30,
                               "columns": ["x", "y"]}  # fmt: skip
    assert server.settings.datasets_dir is not None
    assert (server.settings.datasets_dir / "blobs.npz").read_bytes() == content
    again = client.put("/api/datasets/blobs.npz", content=blobs_npz(n=40), headers=headers)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    assert [d["name"] for d in client.get("/api/datasets").json()] == ["blobs.npz"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("pickled", "cannot be read without unpickling"),
        (b"PK\x03\x04 no zip", "is not an .npz file"),
        (b"x,y\n1,2\n", "is not an .npz file"),
    ],
)
def test_an_upload_that_is_not_a_plain_npz_is_refused_and_writes_nothing(
    server: LiveServer, tmp_path: Path, content: Any, message: str
) -> None:
    marker = tmp_path / "unpickled"
    if content == "pickled":
        content = _bad_files(marker)["pickled.npz"]
    response = server.client().put("/api/datasets/evil.npz", content=content)
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["loc"] == ["body"] and message in error["msg"], error
    assert not marker.exists()
    assert server.settings.datasets_dir is not None
    assert not (server.settings.datasets_dir / "evil.npz").exists()


def test_an_npz_upload_over_the_body_limit_is_a_413(
    server_factory: Callable[..., LiveServer],
) -> None:
    client = server_factory(max_body_bytes=10_000).client()
    assert client.put("/api/datasets/big.npz", content=blobs_npz(n=2000)).status_code == 413
