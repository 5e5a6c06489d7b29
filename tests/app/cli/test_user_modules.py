"""FITBOARD_CALLBACK_MODULES and FITBOARD_RECIPE_MODULES as a user meets them: the `fitboard`
console script started in the directory that holds the module."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.processes import ROOT, _free_port, fitboard_env

README = ROOT / "README.md"
# The console script, not `python -m`: only the script leaves the working directory off
# sys.path, which is the case a user meets.
FITBOARD = Path(sys.executable).with_name("fitboard")
pytestmark = pytest.mark.skipif(not FITBOARD.exists(), reason="no fitboard console script")


def _readme_callback_example() -> str:
    section = README.read_text().split("**Your own callbacks.**", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    return fitboard_env(f"sqlite:///{tmp_path / 'fitboard.db'}") | settings


def _serve(cwd: Path, tmp_path: Path, port: int, **settings: str) -> subprocess.Popen[str]:
    args = ["serve", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    return subprocess.Popen(
        [str(FITBOARD), *args, "--log-level", "warning"],
        cwd=cwd,
        env=_env(tmp_path, **settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(client: httpx.Client, path: str, done, proc: subprocess.Popen[str]) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            response = client.get(path)
            if response.status_code == 200 and done(response.json()):
                return response.json()
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{path} did not get there in 90 s")


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_callback_module_in_the_working_directory_is_attachable(tmp_path):
    modules = tmp_path / "work"
    modules.mkdir()
    (modules / "my_callbacks.py").write_text(_readme_callback_example())
    port = _free_port()
    proc = _serve(modules, tmp_path, port, FITBOARD_CALLBACK_MODULES="my_callbacks")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            _wait(client, "/api/health", lambda body: True, proc)
            names = [item["name"] for item in client.get("/api/callbacks").json()]
            assert "loss_log" in names
            bad = client.post(
                "/api/runs",
                json={"recipe": "mlp", "callbacks": [{"name": "loss_log", "params": {"every": 0}}]},
            )
            assert bad.status_code == 422 and "every" in bad.text
            created = client.post(
                "/api/runs",
                json={
                    "recipe": "mlp",
                    "params": {"epochs": 2, "dataset": "digits", "bs": 64},
                    "callbacks": [{"name": "loss_log", "params": {"every": 1}}],
                },
            )
            assert created.status_code == 201, created.text
            run_id = created.json()["id"]
            run = _wait(client, f"/api/runs/{run_id}", lambda r: r["status"] != "running"
                        and r["status"] != "queued", proc)  # fmt: skip
            assert run["status"] == "completed", run
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    lines = (tmp_path / "data" / "runs" / run_id / "loss.log").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["1", "2"]


BAD_MODULES = {
    "import_fails": ("import numpyy\n", "ModuleNotFoundError: No module named 'numpyy'"),
    "registers_nothing": ("X = 1\n", "registers no callback"),
}


@pytest.mark.parametrize("module", sorted(BAD_MODULES))
def test_a_bad_callback_module_stops_serve_with_one_line(tmp_path, module):
    source, cause = BAD_MODULES[module]
    (tmp_path / f"{module}.py").write_text(source)
    proc = _serve(tmp_path, tmp_path, _free_port(), FITBOARD_CALLBACK_MODULES=module)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "serving on" not in out
    assert err.strip().splitlines() == [err.strip()], err
    assert f"callback module {module!r}" in err and cause in err and "Traceback" not in err


def test_a_bad_recipe_module_stops_serve_with_one_line(tmp_path):
    (tmp_path / "no_recipes.py").write_text("X = 1\n")
    proc = _serve(tmp_path, tmp_path, _free_port(), FITBOARD_RECIPE_MODULES="no_recipes")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "serving on" not in out
    assert err.strip() == (
        "fitboard: recipe module 'no_recipes' registers no recipe "
        "(decorate a function with @recipe from app.catalog)"
    )
