"""Screenshots of the dashboard's pages at desktop and narrow widths, against a running server.

    fitboard serve &                       # or any running fitboard
    .venv/bin/python scripts/screenshots.py --launch 3 --sweep
    # -> test-artifacts/screenshots/{runs,run,compare,sweep}-{desktop,narrow}.png

`--launch N` first starts N short runs (the default recipe on plain digits, 6 epochs, with a
checkpoint; the first one tagged) and waits for them, so the pages have something to show;
`--sweep` a small sweep (4 trials over lr and bs) for the sweep page. The runs page is shot
with its launch and sweep forms open.
Uses Debian's Chromium through Playwright, like the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

SIZES = {"desktop": {"width": 1280, "height": 800}, "narrow": {"width": 390, "height": 844}}
FINISHED = {"completed", "stopped", "early_stopped", "failed", "interrupted"}


def call(base: str, path: str, token: str | None, body: Any = None, method: str = "") -> Any:
    """One JSON API call (POST when `body` is given, unless `method` says otherwise)."""
    data = None if body is None else json.dumps(body).encode()
    method = method or ("POST" if data else "GET")
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def launch_runs(base: str, token: str | None, count: int, timeout: float = 300) -> None:
    """Start `count` short runs with different learning rates and wait until they finish."""
    recipe = call(base, "/api/recipes", token)[0]["name"]
    callbacks = [{"name": "checkpoint", "params": {}}]
    ids = [
        call(
            base, "/api/runs", token, {"recipe": recipe, "params": params, "callbacks": callbacks}
        )["id"]
        for params in (
            {"epochs": 6, "lr": lr, "dataset": "digits", "bs": 32}
            for lr in [0.5, 0.1, 0.02, 1.0][:count]
        )
    ]
    note = {"tags": ["baseline", "digits"], "note": "the first of the screenshot runs"}
    call(base, f"/api/runs/{ids[0]}", token, note, method="PATCH")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(call(base, f"/api/runs/{i}", token)["status"] in FINISHED for i in ids):
            return
        time.sleep(0.5)
    raise SystemExit(f"runs {ids} did not finish within {timeout:.0f} s")


def launch_sweep(base: str, token: str | None, timeout: float = 300) -> None:
    """Start a small sweep of the default recipe and wait until it finishes."""
    recipe = call(base, "/api/recipes", token)[0]["name"]
    body = {
        "recipe": recipe,
        "params": {"epochs": 3, "dataset": "digits"},
        "space": {
            "lr": {"type": "float", "low": 0.01, "high": 1.0, "log": True},
            "bs": {"type": "categorical", "choices": [16, 32, 64]},
        },
        "objective": "valid.accuracy",
        "direction": "max",
        "n_trials": 4,
        "pruner": "none",
        "name": "screenshots",
    }
    sweep_id = call(base, "/api/sweeps", token, body)["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if call(base, f"/api/sweeps/{sweep_id}", token)["status"] != "running":
            return
        time.sleep(0.5)
    raise SystemExit(f"sweep {sweep_id} did not finish within {timeout:.0f} s")


def shoot(page: Page, url: str, path: Path, ready: str, opens: str = "") -> None:
    page.goto(url)
    page.wait_for_selector(ready)
    for summary in filter(None, opens.split(",")):
        page.click(summary)
    page.wait_for_timeout(400)  # let the last animation frame draw the charts
    page.screenshot(path=str(path), full_page=True)
    print(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running server")
    parser.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "screenshots")
    parser.add_argument("--token", help="FITBOARD_TOKEN of the server, if it has one")
    parser.add_argument("--launch", type=int, default=0, metavar="N", help="start N runs first")
    parser.add_argument("--sweep", action="store_true", help="start a small sweep first")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    if args.launch:
        launch_runs(base, args.token, args.launch)
    if args.sweep:
        launch_sweep(base, args.token)
    runs = [
        run
        for run in call(base, "/api/runs?limit=20", args.token)["items"]
        if run.get("sweep_id") is None
    ][:3]
    pages = [("runs", "/", "#runs-body tr, #runs-empty:not([hidden])", "")]
    pages.append(("sweep-form", "/", "#launch-form", "#sweep-launch summary"))
    if runs:
        pages.append(("run", f"/runs/{runs[0]['id']}", "#chart-epoch-loss[data-points]", ""))
        ids = ",".join(run["id"] for run in runs)
        pages.append(("compare", f"/compare?ids={ids}", "#compare-table tbody tr", ""))
    sweeps = call(base, "/api/sweeps?limit=1", args.token)["items"]
    if sweeps:
        pages.append(("sweep", f"/sweeps/{sweeps[0]['id']}", "#trials-body tr", ""))
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for size_name, viewport in SIZES.items():
            context = browser.new_context(viewport=viewport)
            if args.token:
                context.add_init_script(
                    f"localStorage.setItem('fitboard.token', {json.dumps(args.token)})"
                )
            page = context.new_page()
            page.on("pageerror", lambda error: print(f"JavaScript error: {error}", file=sys.stderr))
            for name, path, ready, opens in pages:
                shoot(page, base + path, args.out / f"{name}-{size_name}.png", ready, opens)
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
