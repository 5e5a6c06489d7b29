"""Reading the deployment files the way Docker and docker-compose do, for tests/deploy."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"


def final_stage(dockerfile: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the last stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, args = line.partition(" ")
            instructions.append((keyword.upper(), args.strip()))
    last_from = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    return instructions[last_from:]


def exec_form(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    """The JSON (exec) form of the stage's CMD, or of HEALTHCHECK's CMD."""
    args = next(args for kw, args in stage if kw == keyword)
    return list(json.loads(args[args.index("[") :]))


def image_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    """The variables the stage's ENV instructions set."""
    env: dict[str, str] = {}
    for keyword, args in stage:
        if keyword == "ENV":
            env.update(re.findall(r"(\w+)=(\S+)", args))
    return env


def compose(*args: str, env_file: Path) -> subprocess.CompletedProcess[str]:
    """Debian's docker-compose on our compose file, blind to this shell's FITBOARD_* vars."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose missing: apt-get install docker-compose", pytrace=False)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FITBOARD_", "POSTGRES_"))}
    files = ["--project-directory", str(ROOT), "-f", str(COMPOSE_FILE)]
    return subprocess.run(
        [binary, *files, "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=60,
    )
