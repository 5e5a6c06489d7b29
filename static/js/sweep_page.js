// A sweep's page: best trial, optimisation history, intermediate values (pruned ones dashed),
// parallel coordinates, parameter importances and a sortable trials table; stop, add trials.
// Polls GET /api/sweeps/{id} while the sweep runs (every trial is also a live run page).
import { api, ApiError } from "./api.js";
import { COLORS } from "./charts.js";
import { el, formatNumber, replaceChildren, setBadge } from "./dom.js";
import { drawParallelCoordinates, showParallelNote } from "./parallel_coords.js";
import { runPageUrl, sweepUrl } from "./urls.js";

const POLL_MS = 1000;
const MAX_INTERMEDIATE = 40; // trials drawn in the intermediate-values chart (the newest)
const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500]; // axis ticks of trial numbers, epochs

/** Integers as they are (trial numbers, batch sizes), other numbers as the dashboard shows them. */
function shown(value) {
  return Number.isInteger(value) ? String(value) : formatNumber(value);
}

function uPlotClass() {
  if (!globalThis.uPlot) throw new Error("uPlot did not load (static/vendor/uplot)");
  return globalThis.uPlot;
}

/** A uPlot chart rebuilt when its data changes (a sweep's charts are small). */
class SweepChart {
  constructor(figure, height = 240) {
    this.body = figure.querySelector("[data-chart-body]");
    this.height = height;
    this.plot = null;
    this.signature = "";
  }

  show(signature, opts, data) {
    if (signature === this.signature) return;
    this.signature = signature;
    this.plot?.destroy();
    replaceChildren(this.body);
    const width = Math.max(this.body.clientWidth, 260);
    this.plot = new (uPlotClass())({ width, height: this.height, ...opts }, data, this.body);
  }
}

function historyData(trials, direction) {
  const done = trials.filter((t) => t.value !== null && t.state === "complete");
  const xs = trials.map((t) => t.number);
  const values = trials.map((t) => (t.state === "complete" ? t.value : null));
  let best = null;
  const bestSoFar = trials.map((t) => {
    if (t.state === "complete" && t.value !== null) {
      best = best === null ? t.value : direction === "max" ? Math.max(best, t.value) : Math.min(best, t.value);
    }
    return best;
  });
  return { data: [xs, values, bestSoFar], done: done.length };
}

function drawHistory(chart, sweep) {
  const { data } = historyData(sweep.trials, sweep.direction);
  chart.show(
    JSON.stringify(data),
    {
      scales: { x: { time: false } },
      axes: [{ label: "trial", incrs: WHOLE_STEPS }, { label: sweep.objective, size: 60 }],
      series: [
        { label: "trial" },
        { label: sweep.objective, stroke: COLORS[0], width: 0, points: { show: true, size: 7 }, paths: () => null },
        { label: "best so far", stroke: COLORS[2], width: 2, spanGaps: true },
      ],
    },
    data,
  );
}

function drawIntermediate(chart, sweep) {
  const trials = sweep.trials.filter((t) => t.intermediate.length).slice(-MAX_INTERMEDIATE);
  const epochs = Math.max(0, ...trials.flatMap((t) => t.intermediate.map(([e]) => e)));
  const xs = Array.from({ length: epochs + 1 }, (_, i) => i);
  const ys = trials.map((t) => {
    const byEpoch = new Map(t.intermediate);
    return xs.map((x) => (byEpoch.has(x) ? byEpoch.get(x) : null));
  });
  const series = trials.map((t, i) => ({
    label: `#${t.number}${t.state === "pruned" ? " pruned" : ""}`,
    stroke: t.state === "pruned" ? "#b91c1c" : COLORS[i % COLORS.length],
    dash: t.state === "pruned" ? [5, 4] : undefined,
    width: 1.5,
    points: { show: true, size: 4 },
  }));
  const signature = JSON.stringify([ys, trials.map((t) => t.state)]);
  chart.show(
    signature,
    {
      scales: { x: { time: false } },
      legend: { show: trials.length <= 12 },
      axes: [{ label: "epoch", incrs: WHOLE_STEPS }, { label: sweep.objective, size: 60 }],
      series: [{ label: "epoch" }, ...series],
    },
    [xs, ...ys],
  );
}

/** Parallel coordinates: an axis per searched param and one for the objective; a line per
 * complete trial, the better ones darker. Log-scale params get a log axis. */
function drawParallel(figure, sweep) {
  const body = figure.querySelector("[data-chart-body]");
  const done = sweep.trials.filter((t) => t.state === "complete" && t.value !== null);
  const signature = JSON.stringify(done.map((t) => [t.number, t.value]));
  if (body.dataset.signature === signature) return;
  body.dataset.signature = signature;
  if (!done.length) {
    showParallelNote(body, "After the first finished trial.");
    return;
  }
  const axes = Object.entries(sweep.space).map(([name, spec]) => ({
    name,
    value: (t) => t.params[name],
    ...(spec.type === "categorical"
      ? { kind: "category", choices: spec.choices }
      : { kind: "number", log: spec.log, low: spec.low, high: spec.high }),
  }));
  axes.push({ name: sweep.objective, kind: "number", value: (t) => t.value });
  const values = done.map((t) => t.value);
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  drawParallelCoordinates(body, {
    axes,
    items: done,
    title: (t) => `trial ${t.number}: ${formatNumber(t.value)}`,
    shade: (t) => {
      const goodness = hi === lo ? 1 : (t.value - lo) / (hi - lo);
      return sweep.direction === "max" ? goodness : 1 - goodness;
    },
    label: "Parallel coordinates of the params against the objective",
  });
}

function drawImportances(figure, importances) {
  const body = figure.querySelector("[data-chart-body]");
  const entries = Object.entries(importances);
  if (!entries.length) {
    replaceChildren(body, el("p", { class: "empty" }, "After two finished trials."));
    return;
  }
  const rows = entries.map(([name, value]) => {
    const bar = el("span", { class: "importance-bar" });
    bar.style.width = `${Math.round(value * 100)}%`; // CSSOM: the CSP allows no style attributes
    return el(
      "div",
      { class: "importance-row", "data-param": name },
      el("span", { class: "importance-name" }, name),
      el("span", { class: "importance-track" }, bar),
      el("span", { class: "importance-value" }, value.toFixed(2)),
    );
  });
  replaceChildren(body, ...rows);
}

class TrialsTable {
  constructor(head, body) {
    this.head = head;
    this.body = body;
    this.sort = { key: "number", descending: false };
  }

  columns(sweep) {
    const params = Object.keys(sweep.space).map((name) => ({ key: `param:${name}`, label: name, num: true }));
    return [
      { key: "number", label: "#", num: true },
      { key: "run", label: "Run" },
      { key: "state", label: "State" },
      { key: "value", label: sweep.objective, num: true },
      ...params,
      { key: "epochs", label: "Epochs", num: true },
    ];
  }

  cell(trial, key) {
    if (key === "number") return trial.number;
    if (key === "run") return trial.run_id || "";
    if (key === "state") return trial.state;
    if (key === "value") return trial.value;
    if (key === "epochs") return trial.intermediate.length;
    return trial.params[key.slice("param:".length)];
  }

  render(sweep) {
    const columns = this.columns(sweep);
    replaceChildren(
      this.head,
      ...columns.map((column) => {
        const sorted = this.sort.key === column.key;
        const button = el("button", { type: "button", class: "sort-button", "data-sort": column.key }, column.label);
        button.addEventListener("click", () => {
          this.sort = { key: column.key, descending: sorted ? !this.sort.descending : false };
          this.render(sweep);
        });
        const order = sorted ? (this.sort.descending ? "descending" : "ascending") : "none";
        return el("th", { scope: "col", class: column.num ? "num" : "", "aria-sort": order }, button);
      }),
    );
    const { key, descending } = this.sort;
    const rows = [...sweep.trials].sort((a, b) => compare(this.cell(a, key), this.cell(b, key), descending));
    replaceChildren(
      this.body,
      ...rows.map((trial) =>
        el(
          "tr",
          { "data-trial": trial.number, "data-state": trial.state },
          ...columns.map((column) => el("td", { class: column.num ? "num" : "" }, this.show(trial, column.key))),
        ),
      ),
    );
  }

  show(trial, key) {
    const value = this.cell(trial, key);
    if (key === "run") return value ? el("a", { href: runPageUrl(value) }, value) : "";
    if (key === "state") {
      const badge = el("span", {});
      setBadge(badge, trial.state === "complete" ? "completed" : trial.state === "fail" ? "failed" : trial.state);
      badge.textContent = trial.retried ? `${trial.state} (retried)` : trial.state;
      return badge;
    }
    return typeof value === "number" ? shown(value) : String(value ?? "–");
  }
}

function compare(a, b, descending) {
  const missing = (v) => v === null || v === undefined;
  if (missing(a) || missing(b)) return missing(a) - missing(b); // missing values last
  const order = typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b));
  return descending ? -order : order;
}

class SweepPage {
  constructor(root) {
    this.id = root.dataset.sweepId;
    this.error = root.querySelector("#sweep-error");
    this.history = new SweepChart(root.querySelector("#history-chart"));
    this.intermediate = new SweepChart(root.querySelector("#intermediate-chart"));
    this.parallel = root.querySelector("#parallel-chart");
    this.importance = root.querySelector("#importance-chart");
    this.table = new TrialsTable(root.querySelector("#trials-head"), root.querySelector("#trials-body"));
    this.completed = -1;
    this.timer = null;
    root.querySelector("#sweep-stop").addEventListener("click", () => this.act("stop"));
    root.querySelector("#sweep-add").addEventListener("click", () => this.act("trials"));
  }

  async refresh() {
    let sweep;
    try {
      sweep = await api(sweepUrl(this.id));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.showError(err.status === 404 ? `No sweep with id ${this.id}.` : err.message);
      if (err.status !== 404) this.schedule(POLL_MS * 3);
      return;
    }
    this.render(sweep);
    if (sweep.counts.complete !== this.completed) {
      this.completed = sweep.counts.complete;
      drawImportances(this.importance, await api(sweepUrl(this.id, "importances")));
    }
    if (sweep.status === "running") this.schedule(POLL_MS);
  }

  /** One poll pending at a time, however many actions asked for one. */
  schedule(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), ms);
  }

  render(sweep) {
    document.querySelector("#sweep-name").textContent = sweep.name;
    document.title = `${sweep.name} · fitboard`;
    const status = document.querySelector("#sweep-status");
    setBadge(status, sweep.status);
    status.textContent = sweep.stopping && sweep.status === "running" ? "stopping" : sweep.status;
    const c = sweep.counts;
    document.querySelector("#sweep-summary").textContent =
      `${sweep.recipe} · ${sweep.direction} ${sweep.objective} · ${sweep.sampler} sampler, ` +
      `${sweep.pruner} pruner · ${c.complete} complete, ${c.pruned} pruned, ${c.fail} failed, ` +
      `${c.running} running of ${sweep.n_trials} · study ${sweep.study_name}`;
    this.renderBest(sweep.best);
    drawHistory(this.history, sweep);
    drawIntermediate(this.intermediate, sweep);
    drawParallel(this.parallel, sweep);
    this.table.render(sweep);
  }

  renderBest(best) {
    const box = document.querySelector("#sweep-best");
    if (!best) {
      replaceChildren(box, el("p", { class: "empty" }, "No finished trial yet."));
      return;
    }
    const params = Object.entries(best.params).map(([k, v]) =>
      el("li", {}, el("code", {}, k), ` = ${typeof v === "number" ? shown(v) : v}`),
    );
    replaceChildren(
      box,
      el(
        "p",
        {},
        `Trial #${best.number}: `,
        el("strong", { id: "best-value" }, formatNumber(best.value)),
        " · run ",
        best.run_id ? el("a", { href: runPageUrl(best.run_id) }, best.run_id) : "–",
      ),
      el("ul", { class: "best-params" }, ...params),
    );
  }

  async act(action) {
    const body =
      action === "stop"
        ? { trials: document.querySelector("#sweep-stop-mode").value }
        : { n: Number(document.querySelector("#sweep-add-n").value) };
    try {
      const sweep = await api(sweepUrl(this.id, action), { method: "POST", body });
      this.error.hidden = true;
      this.render(sweep);
      if (sweep.status === "running") this.schedule(POLL_MS);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.showError(err.message);
    }
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = false;
  }
}

const root = document.querySelector("#sweep-page");
if (root) new SweepPage(root).refresh();
