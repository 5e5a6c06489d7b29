// The compare page: the epoch curves of several runs overlaid, one chart per statistic,
// kept live from WS /ws/runs while any of them trains.
import { api, ApiError } from "./api.js";
import { initConnectionBanner } from "./connection.js";
import { COLORS, LiveChart } from "./charts.js";
import { renderCompareParallel } from "./compare_parallel.js";
import { renderCompareTable } from "./compare_table.js";
import { badge, el, replaceChildren, setBadge } from "./dom.js";
import { forkPointLabel } from "./fork_panel.js";
import { FrameQueue } from "./frame_queue.js";
import { epochNumber, metricNames, metricOf } from "./messages.js";
import { runPageUrl, runUrl } from "./urls.js";
import { MessageStream } from "./ws.js";

const runs = []; // [{id, run, epochs: Map(epochNumber -> message), color}]
const charts = new Map(); // "valid loss" -> LiveChart

function idsFromUrl() {
  const raw = new URLSearchParams(window.location.search).get("ids") || "";
  return [...new Set(raw.split(",").map((s) => s.trim()).filter(Boolean))];
}

/** The statistics to chart: valid and train loss first, then every metric any run reports. */
function statistics() {
  const names = new Set();
  for (const entry of runs) {
    for (const message of entry.epochs.values()) metricNames(message).forEach((n) => names.add(n));
  }
  const stats = [["valid", "loss"], ["train", "loss"]];
  for (const name of [...names].sort()) stats.push(["valid", name], ["train", name]);
  return stats;
}

function chartFor(split, name) {
  const key = `${split} ${name}`;
  if (charts.has(key)) return charts.get(key);
  const figure = el(
    "figure",
    { class: "chart", "data-statistic": key },
    el("figcaption", {}, el("span", { class: "chart-title" }, `${split === "valid" ? "Valid" : "Train"} ${name.replace(/_/g, " ")} per epoch`)),
    el("div", { "data-chart-body": true }),
  );
  document.getElementById("compare-charts").append(figure);
  const chart = new LiveChart(figure, {
    xLabel: "epoch",
    xIsEpoch: true,
    logY: name === "loss" ? "auto" : false,
    series: runs.map((entry) => ({ label: entry.run.name || entry.id, color: entry.color })),
  });
  charts.set(key, chart);
  return chart;
}

/** The table, and the statistic chooser's options (keeping the choice). */
function renderDetails() {
  document.getElementById("compare-details").hidden = runs.length === 0;
  renderCompareTable(document.getElementById("compare-table"), runs, swatch);
  const select = document.getElementById("compare-metric");
  const chosen = select.value;
  const options = statistics().map(([split, name]) => {
    const key = `${split} ${name}`;
    return el("option", { value: key, selected: key === chosen }, key.replace(/_/g, " "));
  });
  replaceChildren(select, el("option", { value: "" }, "every statistic"), options);
  showChosenChart();
}

function showChosenChart() {
  const chosen = document.getElementById("compare-metric").value;
  for (const [key, chart] of charts) chart.container.hidden = Boolean(chosen) && key !== chosen;
  renderCompareParallel(document.getElementById("compare-parallel"), runs, chosen);
}

function redraw() {
  const maxEpoch = Math.max(0, ...runs.flatMap((entry) => [...entry.epochs.keys()]));
  const xs = Array.from({ length: maxEpoch }, (_, i) => i + 1);
  for (const [split, name] of statistics()) {
    const ys = runs.map((entry) => xs.map((x) => metricOf(entry.epochs.get(x), split, name)));
    if (ys.every((series) => series.every((v) => v === null))) continue;
    const chart = chartFor(split, name);
    chart.setData(xs, ys);
    chart.draw();
    // Where each run's curve begins: a fork's at its fork point, not at epoch 1.
    chart.container.dataset.firstEpochs = ys.map((v) => xs[v.findIndex((y) => y !== null)] ?? "").join(",");
  }
}

function addEpoch(entry, message) {
  const x = epochNumber(message);
  if (x !== null) entry.epochs.set(x, message);
}

async function loadRun(id, index) {
  const [run, metrics] = await Promise.all([api(runUrl(id)), api(runUrl(id, "metrics"))]);
  const entry = { id, run, epochs: new Map(), color: COLORS[index % COLORS.length] };
  for (const message of metrics.epochs || []) addEpoch(entry, message);
  return entry;
}

/** A run's colour key. Set through CSSOM: the Content-Security-Policy refuses style attributes. */
function swatch(color) {
  const node = el("span", { class: "swatch", "aria-hidden": "true" });
  node.style.background = color;
  return node;
}

/** "fork of <parent> from epoch 3, after 12 of its batches": for a fork, its parent. */
function lineage(run) {
  if (!run.parent_id) return null;
  const parent = runs.find((entry) => entry.id === run.parent_id);
  const name = parent ? parent.run.name || parent.id : run.parent_id;
  return el(
    "span",
    { class: "lineage" },
    " fork of ",
    el("a", { href: runPageUrl(run.parent_id) }, name),
    ` from ${forkPointLabel(run.fork_point)}`,
  );
}

function renderRunList() {
  const items = runs.map((entry) =>
    el(
      "li",
      { "data-run-id": entry.id },
      swatch(entry.color),
      el("a", { href: runPageUrl(entry.id) }, entry.run.name || entry.id),
      " ",
      badge(entry.run.status),
      lineage(entry.run),
    ),
  );
  replaceChildren(document.getElementById("compare-runs"), items);
}

function applyMessages(messages) {
  for (const message of messages) {
    const entry = runs.find((r) => r.id === message.run_id);
    if (!entry) continue;
    if (message.type === "epoch") addEpoch(entry, message);
    if (message.type === "status") {
      entry.run.status = message.status;
      setBadge(document.querySelector(`[data-run-id="${CSS.escape(entry.id)}"] .badge`), message.status);
    }
  }
  redraw();
  renderDetails();
}

async function main() {
  initConnectionBanner();
  const ids = idsFromUrl();
  const error = document.getElementById("compare-error");
  if (!ids.length) return;
  document.getElementById("compare-help").hidden = true;
  const results = await Promise.allSettled(ids.map((id, i) => loadRun(id, i)));
  const missing = [];
  results.forEach((result, i) => {
    if (result.status === "fulfilled") runs.push(result.value);
    else if (result.reason instanceof ApiError) missing.push(`${ids[i]} (${result.reason.message})`);
    else throw result.reason;
  });
  if (missing.length) {
    error.textContent = `Could not load: ${missing.join(", ")}`;
    error.hidden = false;
  }
  renderRunList();
  redraw();
  renderDetails();
  document.getElementById("compare-metric").addEventListener("change", showChosenChart);
  document.getElementById("compare-only-differing").addEventListener("change", (event) => {
    document.getElementById("compare-table").classList.toggle("only-differing", event.target.checked);
  });
  const queue = new FrameQueue(applyMessages);
  new MessageStream("/ws/runs", { onMessages: (m) => queue.pushAll(m) }).connect();
}

main();
