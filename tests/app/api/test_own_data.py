"""Your own data: a CSV file in FITBOARD_DATASETS_DIR trains a run of the built-in mlp."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures.server import LiveServer, wait_for_status

pytestmark = pytest.mark.timeout(120)


def _blobs(path: Path, n: int = 400) -> None:
    """Three well-separated classes in four numeric columns, named in a `kind` column."""
    rng = np.random.default_rng(0)
    lines = ["f1,f2,f3,f4,kind"]
    for i in range(n):
        kind = ["setosa", "versicolor", "virginica"][i % 3]
        centre = 5.0 * (i % 3)
        values = centre + rng.normal(size=4)
        lines.append(",".join(f"{v:.4f}" for v in values) + f",{kind}")
    path.write_text("\n".join(lines) + "\n")


def test_a_run_trains_on_a_csv_of_your_own(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    _blobs(datasets / "blobs.csv")
    server = server_factory(datasets_dir=datasets)
    client = server.client()
    params = {"dataset": "csv", "data_path": "blobs.csv", "label": "kind", "epochs": 3, "bs": 16}
    response = client.post("/api/runs", json={"recipe": "mlp", "params": params})
    assert response.status_code == 201, response.text
    run = wait_for_status(client, response.json()["id"], "completed")
    assert run["latest"]["valid"]["accuracy"] > 0.9  # the classes are far apart
    assert run["params"]["data_path"] == "blobs.csv"  # as given, never a server path


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"dataset": "csv"}, "is required with dataset 'csv'"),
        ({"dataset": "csv", "data_path": "missing.csv"}, "does not exist"),
        ({"dataset": "csv", "data_path": "table.txt"}, "must be a .csv or .npz file"),
        (
            {"dataset": "digits", "data_path": "blobs.csv"},
            "only used with dataset 'mnist' or 'csv'",
        ),
    ],
)
def test_a_csv_request_that_cannot_be_read_is_a_422_at_data_path(
    server_factory: Callable[..., LiveServer], tmp_path: Path, params: dict, message: str
) -> None:
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    _blobs(datasets / "blobs.csv")
    (datasets / "table.txt").write_text("a,label\n")
    client = server_factory(datasets_dir=datasets).client()
    response = client.post("/api/runs", json={"recipe": "mlp", "params": params})
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["loc"] == ["body", "params", "data_path"] and message in error["msg"]
    assert client.get("/api/runs").json()["total"] == 0


def test_a_csv_whose_label_column_is_missing_fails_the_run_with_the_reason(
    server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    _blobs(datasets / "blobs.csv")
    client = server_factory(datasets_dir=datasets).client()
    params = {"dataset": "csv", "data_path": "blobs.csv", "epochs": 1}  # label: "label"
    run_id = client.post("/api/runs", json={"recipe": "mlp", "params": params}).json()["id"]
    run = wait_for_status(client, run_id, "failed")
    assert "has no column 'label'; its columns: f1, f2, f3, f4, kind" in run["error"]
    assert str(datasets) not in run["error"]  # the file as the client named it


def test_a_csv_uploaded_is_listed_and_never_replaced(server: LiveServer, tmp_path: Path) -> None:
    client = server.client()
    _blobs(tmp_path / "blobs.csv", n=30)
    content = (tmp_path / "blobs.csv").read_bytes()
    headers = {"Content-Type": "text/csv"}
    response = client.put("/api/datasets/blobs.csv", content=content, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json() == {
        "name": "blobs.csv",
        "bytes": len(content),
        "rows": 30,
        "columns": ["f1", "f2", "f3", "f4", "kind"],
    }
    assert server.settings.datasets_dir is not None
    assert (server.settings.datasets_dir / "blobs.csv").read_bytes() == content
    again = client.put("/api/datasets/blobs.csv", content=b"a,b\n" + b"1,2\n" * 20)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    assert (server.settings.datasets_dir / "blobs.csv").read_bytes() == content
    assert [d["name"] for d in client.get("/api/datasets").json()] == ["blobs.csv"]


@pytest.mark.parametrize(
    ("name", "content", "status", "loc", "message"),
    [
        ("t.csv", b"a,label\n1,x\n", 422, ["body"], "has 1 rows; at least 10"),
        ("t.csv", b"\xff\xfe" * 10, 422, ["body"], "not UTF-8"),
        ("t.csv", b"a,a\n" + b"1,2\n" * 10, 422, ["body"], "names a column twice"),
        ("t.csv", b"a,b\n" + b"1,2\n" * 9 + b"1\n", 422, ["body"], "line 11: 1 fields"),
        ("..%2Fescape.csv", b"a,b\n" + b"1,2\n" * 10, 404, None, ""),  # matches no route
        ("t.txt", b"a,b\n" + b"1,2\n" * 10, 422, ["path", "name"], ""),
    ],
)
def test_an_upload_that_is_not_a_table_is_refused_and_writes_nothing(
    server: LiveServer, name: str, content: bytes, status: int, loc: list | None, message: str
) -> None:
    response = server.client().put(f"/api/datasets/{name}", content=content)
    assert response.status_code == status, response.text
    if loc is not None:
        error = response.json()["detail"][0]
        assert error["loc"] == loc and message in error["msg"]
    assert server.settings.datasets_dir is not None
    assert not server.settings.datasets_dir.exists() or not any(
        server.settings.datasets_dir.iterdir()
    )


def test_an_upload_over_the_body_limit_is_a_413(
    server_factory: Callable[..., LiveServer],
) -> None:
    client = server_factory(max_body_bytes=10_000).client()
    big = b"a,b\n" + b"1,2\n" * 5000
    assert client.put("/api/datasets/big.csv", content=big).status_code == 413
