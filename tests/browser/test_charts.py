"""The charts in a real Chromium: 100,000 batch points are decimated and stay quick to draw."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.browser

N = 100_000
WIDTH = 800

# Runs in the page: fills the dashboard's own LiveChart with N points, then appends a few per
# frame as a live run would, timing each redraw (uPlot paints in a microtask: `await null`).
# The baseline is uPlot itself given every point, as a chart without decimation would be.
MEASURE = """async ([n, width]) => {
  const { LiveChart } = await import("/static/js/charts.js");
  const host = () => {
    const figure = document.createElement("figure");
    figure.style.width = `${width}px`;
    const body = document.createElement("div");
    body.dataset.chartBody = "";
    figure.append(body);
    document.body.append(figure);
    return figure;
  };
  const loss = (i) => Math.sin(i / 50) + (i === 54321 ? 40 : 0);  // one spike to keep
  const figure = host();
  const chart = new LiveChart(figure, {
    xLabel: "iteration",
    series: [{ label: "loss", color: "#000" }, { label: "smoothed", color: "#00f" }],
  });
  for (let i = 0; i < n; i++) chart.append(i, [loss(i), 0]);
  chart.draw();
  await null;
  const ours = [];
  for (let f = 0; f < 21; f++) {
    for (let k = 0; k < 5; k++) chart.append(n + f * 5 + k, [loss(n + f * 5 + k), 0]);
    const t = performance.now();
    chart.draw();
    await null;
    ours.push(performance.now() - t);
  }
  const xs = [], ys = [];
  for (let i = 0; i < n; i++) { xs.push(i); ys.push(loss(i)); }
  const plain = new uPlot({ width, height: 220, scales: { x: { time: false } },
    series: [{}, { stroke: "#000" }] }, [xs, ys], host().querySelector("div"));
  const baseline = [];
  for (let f = 0; f < 21; f++) {
    for (let k = 0; k < 5; k++) { xs.push(n + f * 5 + k); ys.push(loss(n + f * 5 + k)); }
    const t = performance.now();
    plain.setData([xs, ys]);
    await null;
    baseline.push(performance.now() - t);
  }
  const median = (v) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
  return {
    points: Number(figure.dataset.points),
    drawn: Number(figure.dataset.drawn),
    drawnMax: Math.max(...chart.plot.data[1].filter((v) => v !== null)),
    oursMs: median(ours),
    baselineMs: median(baseline),
  };
}"""


def test_100k_batch_points_are_decimated_and_keep_their_spikes(
    page: Any, server: LiveServer
) -> None:
    page.goto(server.url + "/compare")
    page.wait_for_function("() => window.uPlot !== undefined")
    result = page.evaluate(MEASURE, [N, WIDTH])

    assert result["points"] == N + 21 * 5  # every point kept for zooming and the legend
    assert result["drawn"] <= 2 * WIDTH + 2, result  # at most min and max per pixel column
    assert result["drawnMax"] == pytest.approx(40 + math.sin(54321 / 50))  # the spike survives
    print(
        f"\nredraw with {N:,} points: {result['oursMs']:.2f} ms decimated, "
        f"{result['baselineMs']:.2f} ms all points (uPlot alone); "
        f"ratio {result['baselineMs'] / max(result['oursMs'], 1e-3):.1f}x (medians of 21)"
    )
