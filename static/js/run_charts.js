// The run page's charts: batch loss (raw and smoothed), learning rate, loss and every metric
// per epoch. Messages are added at any rate; draw() runs once per animation frame.
import { COLORS, LiveChart } from "./charts.js";
import { el } from "./dom.js";
import { smoothNext } from "./decimate.js";
import { batchX, epochNumber, metricNames, metricOf } from "./messages.js";
import { RunClock, X_AXES } from "./x_axis.js";

const TRAIN = { color: COLORS[0] };
const VALID = { color: COLORS[1], dash: [6, 4] };

function metricTitle(name) {
  const words = name.replace(/_/g, " ");
  return `${words[0].toUpperCase()}${words.slice(1)} per epoch`;
}

export class RunCharts {
  constructor(root) {
    this.root = root;
    this.smoothing = 0.9;
    this.smoothState = {};
    this.resmoothPending = false; // points were inserted before the end: smooth again at draw
    this.batch = new LiveChart(root.querySelector("#chart-batch-loss"), {
      xLabel: "iteration",
      logY: "auto",
      series: [
        { label: "loss", color: "#93c5fd", width: 1 },
        { label: "smoothed", color: COLORS[0], width: 2 },
      ],
    });
    this.lr = new LiveChart(root.querySelector("#chart-lr"), {
      xLabel: "iteration",
      series: [{ label: "lr", color: COLORS[2] }],
      height: 160,
    });
    this.epochLoss = new LiveChart(root.querySelector("#chart-epoch-loss"), {
      xLabel: "epoch",
      xIsEpoch: true,
      logY: "auto",
      best: { series: 1, mode: "min" }, // the epoch of the lowest validation loss
      series: [
        { label: "train", ...TRAIN },
        { label: "valid", ...VALID },
      ],
    });
    // Sampled once a second by the worker: CPU % (100 = one core) and resident memory.
    this.system = new LiveChart(root.querySelector("#chart-system"), {
      xLabel: "iteration",
      series: [
        { label: "CPU %", color: COLORS[3] },
        { label: "RSS MB", color: COLORS[5], dash: [6, 4] },
      ],
      height: 160,
    });
    // Sampled with the CPU when the run is on CUDA (NVML): hidden until a message has it.
    this.gpuFigure = root.querySelector("#chart-gpu");
    this.gpu = new LiveChart(this.gpuFigure, {
      xLabel: "iteration",
      series: [
        { label: "GPU %", color: COLORS[4] },
        { label: "GPU memory %", color: COLORS[6], dash: [6, 4] },
      ],
      height: 160,
    });
    this.metricBox = root.querySelector("#metric-charts");
    this.metrics = new Map(); // metric name -> LiveChart
    this.clock = new RunClock();
    this.axis = "own"; // each chart its own x: batch charts by iteration, epoch charts by epoch
    this.wireSmoothing();
    this.wireAxis();
  }

  /** The page's x-axis chooser: iteration, epoch or wall clock for every chart. */
  wireAxis() {
    const select = this.root.querySelector("#x-axis");
    if (!select) return;
    select.addEventListener("change", () => this.setAxis(select.value));
  }

  /** Charts whose points are at training-batch counts, and those at epoch numbers. */
  iterCharts() {
    return [this.batch, this.lr, this.system, this.gpu];
  }

  epochCharts() {
    return [this.epochLoss, ...this.metrics.values()];
  }

  setAxis(axis) {
    if (axis !== "own" && !(axis in X_AXES)) return;
    this.axis = axis;
    for (const chart of this.iterCharts()) this.showAxis(chart, false);
    for (const chart of this.epochCharts()) this.showAxis(chart, true);
  }

  showAxis(chart, byEpoch) {
    const own = byEpoch ? "epoch" : "iteration";
    const axis = this.axis === "own" ? own : this.axis;
    const map = byEpoch ? (n) => this.clock.fromEpoch(n, axis) : (i) => this.clock.fromIter(i, axis);
    chart.setX(X_AXES[axis], axis === own ? null : map, byEpoch && axis === "epoch");
  }

  wireSmoothing() {
    const slider = this.root.querySelector("#smoothing");
    const output = this.root.querySelector("#smoothing-value");
    if (!slider) return;
    this.smoothing = Number(slider.value);
    slider.addEventListener("input", () => {
      this.smoothing = Number(slider.value);
      output.textContent = this.smoothing.toFixed(2);
      this.resmooth();
      this.batch.draw();
    });
  }

  resmooth() {
    this.smoothState = {};
    const smoothed = this.batch.ys[0].map((v) => smoothNext(this.smoothState, v, this.smoothing));
    this.batch.replaceSeries(1, smoothed);
  }

  /** A batch message ({epoch, iter, n_iter?, loss, lr}). */
  addBatch(message) {
    this.clock.addSample(message);
    const x = batchX(message);
    if (x === null || !this.batch.accepts(x)) return; // already shown (history, replay)
    const loss = typeof message.loss === "number" ? message.loss : null;
    this.batch.append(x, [loss, smoothNext(this.smoothState, loss, this.smoothing)]);
    if (typeof message.lr === "number") this.lr.append(x, [message.lr]);
  }

  /**
   * An epoch's training batches ({iter, loss, lr}, from the epoch message): merged into the
   * batch-loss and learning-rate charts at every iter not shown yet (live batch messages
   * already put some there).
   */
  addEpochBatches(batches) {
    if (!batches || !Array.isArray(batches.iter)) return;
    const { iter, loss = [], lr = [] } = batches;
    const losses = iter.map((_, i) => (typeof loss[i] === "number" ? loss[i] : null));
    const before = this.batch.pointCount;
    const first = this.batch.merge(
      iter,
      losses.map((v) => [v, null]),
    );
    if (first === before) {
      // Only appended: go on smoothing from where it was.
      const smoothed = this.batch.ys[1];
      for (let i = first; i < this.batch.pointCount; i++) {
        smoothed[i] = smoothNext(this.smoothState, this.batch.ys[0][i], this.smoothing);
      }
    } else if (first >= 0) {
      this.resmoothPending = true; // once, at the next draw, however many epochs came
    }
    const lrIters = [];
    const lrRows = [];
    iter.forEach((x, i) => {
      if (typeof lr[i] === "number") {
        lrIters.push(x);
        lrRows.push([lr[i]]);
      }
    });
    this.lr.merge(lrIters, lrRows);
  }

  /** An epoch message ({epoch, train: {...}, valid: {...}, batches?: {iter, loss, lr}}). */
  addEpoch(message) {
    this.clock.addEpoch(message);
    this.addEpochBatches(message.batches);
    const x = epochNumber(message);
    if (x === null) return;
    this.epochLoss.append(x, [metricOf(message, "train", "loss"), metricOf(message, "valid", "loss")]);
    for (const name of metricNames(message)) {
      this.metricChart(name).append(x, [
        metricOf(message, "train", name),
        metricOf(message, "valid", name),
      ]);
    }
  }

  metricChart(name) {
    let chart = this.metrics.get(name);
    if (chart) return chart;
    const figure = el(
      "figure",
      { class: "chart", id: `chart-metric-${name}`, "data-metric": name },
      el(
        "figcaption",
        {},
        el("span", { class: "chart-title" }, metricTitle(name)),
        el("span", { class: "chart-last", "data-chart-last": true }),
      ),
      el("div", { "data-chart-body": true }),
    );
    this.metricBox.append(figure);
    chart = new LiveChart(figure, {
      xLabel: "epoch",
      xIsEpoch: true,
      best: { series: 1, mode: /loss|error/.test(name) ? "min" : "max" },
      series: [
        { label: `train ${name}`, ...TRAIN },
        { label: `valid ${name}`, ...VALID },
      ],
    });
    this.metrics.set(name, chart);
    if (this.axis !== "own") this.showAxis(chart, true);
    return chart;
  }

  /** A `system` message ({cpu_percent, rss_bytes, iter}). */
  addSystem(message) {
    if (!Number.isFinite(message.iter)) return;
    this.clock.addSample(message);
    const mb = Number.isFinite(message.rss_bytes) ? message.rss_bytes / 2 ** 20 : null;
    this.system.append(message.iter, [message.cpu_percent, mb]);
    if (Number.isFinite(message.gpu_percent)) {
      const total = message.gpu_memory_total;
      const memory = total > 0 ? (100 * message.gpu_memory_bytes) / total : null;
      this.gpu.append(message.iter, [message.gpu_percent, memory]);
      this.gpuFigure.hidden = false;
    }
  }

  /** Redraw what changed (call once per animation frame). */
  draw() {
    if (this.resmoothPending) {
      this.resmoothPending = false;
      this.resmooth();
    }
    const charts = [...this.iterCharts(), ...this.epochCharts()];
    if (this.axis !== "own") {
      // Shown in another unit: what a new message taught the clock may move every point.
      for (const chart of charts) if (chart.xMap) chart.dirty = true;
    }
    for (const chart of charts) chart.draw();
  }
}
