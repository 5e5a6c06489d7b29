"""The dashboard's JavaScript: every module parses, and the chart helpers pass their unit tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "static" / "js"


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("the JavaScript checks need Node.js on PATH (apt-get install nodejs)")
    return found


def test_every_module_parses_as_an_es_module(node: str) -> None:
    # static/js/package.json says "type": "module"; without it `node --check` passes syntax errors.
    assert (JS_DIR / "package.json").is_file()
    modules = sorted(JS_DIR.glob("*.js"))
    assert modules, "no JavaScript modules in static/js"
    for module in modules:
        result = subprocess.run([node, "--check", str(module)], capture_output=True, text=True)
        assert result.returncode == 0, f"{module.name}: {result.stderr}"


def test_node_check_catches_a_syntax_error_beside_our_package_json(
    node: str, tmp_path: Path
) -> None:
    (tmp_path / "package.json").write_bytes((JS_DIR / "package.json").read_bytes())
    broken = tmp_path / "broken.js"
    broken.write_text('import { el } from "./dom.js";\nexport const x = el( ;\n')
    result = subprocess.run([node, "--check", str(broken)], capture_output=True, text=True)
    assert result.returncode != 0, "node --check accepted a syntax error in an ES module"


def test_chart_helpers(node: str) -> None:
    result = subprocess.run(
        [node, "--test", str(ROOT / "tests" / "browser" / "js")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
