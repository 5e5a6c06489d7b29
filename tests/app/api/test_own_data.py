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
        ({"dataset": "csv", "data_path": "table.txt"}, "must be a .csv file"),
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
