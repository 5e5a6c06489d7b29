// Live line charts on the vendored uPlot (static/vendor/uplot, loaded as the global `uPlot`).
// Points are appended as messages arrive; the page calls draw() once per animation frame.
import { lowerBound, mergeSorted, minMaxIndices } from "./decimate.js";
import { formatNumber as formatValue } from "./dom.js";

export const COLORS = ["#1d4ed8", "#c2410c", "#047857", "#7e22ce", "#b91c1c", "#0e7490", "#a16207"];
const DECIMATE_ABOVE = 4000; // points; fewer than this are drawn as they are
const AUTO_LOG_DECADES = 2; // a loss spanning more than this many decades starts on a log axis

/**
 * Tick labels that stay distinct at any scale: as many decimals as the tick step needs
 * (0.0012, 0.0014, ... when zoomed in, not "0, 0, 0"), powers of ten as 1e-5 on a log axis.
 */
export function tickLabels(splits, step, log = false) {
  return splits.map((v) => {
    if (v === null || v === undefined || !Number.isFinite(v)) return "";
    if (v === 0) return "0";
    const abs = Math.abs(v);
    if (log || abs >= 1e5 || abs < 1e-3) {
      const text = v.toExponential(log ? 0 : 1);
      return text.replace("e+", "e").replace(/\.0e/, "e");
    }
    return v.toFixed(stepDecimals(step));
  });
}

/** The decimals that write `step` exactly: 0.25 -> 2 (so 0.25 never shows as "0.3"). */
function stepDecimals(step) {
  if (!(step > 0)) return 2;
  for (let d = 0; d < 8; d++) {
    const scaled = step * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * scaled) return d;
  }
  return 8;
}

/** The index of the best finite value (min or max), or -1. */
export function bestIndex(values, mode) {
  let best = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || !Number.isFinite(v)) continue;
    if (best < 0 || (mode === "max" ? v > values[best] : v < values[best])) best = i;
  }
  return best;
}

function decadesSpanned(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v === null || !(v > 0)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return hi > lo ? Math.log10(hi / lo) : 0;
}

function uPlotClass() {
  if (!globalThis.uPlot) throw new Error("uPlot did not load (static/vendor/uplot)");
  return globalThis.uPlot;
}

/** An epoch axis: whole epochs, one either side of a single point. */
function epochRange(u, min, max) {
  if (min === null || max === null) return [0, 1];
  return min === max ? [min - 1, max + 1] : [min, max];
}

/** One chart: a shared x axis and one or more y series, appended in increasing x. */
export class LiveChart {
  /**
   * container: an element with a [data-chart-body] child and optionally [data-chart-last].
   * series: [{label, color, dash?, width?}]; xLabel names the x axis.
   */
  /**
   * logY: true / false, or "auto" (log once the first series spans over two decades, until the
   * person picks with the chart's "log" toggle). best: {series, mode: "min"|"max"} marks the
   * best point of that series (the best epoch) with a line.
   */
  constructor(
    container,
    { series, xLabel, height = 220, logY = false, xIsEpoch = false, best = null, controls = true },
  ) {
    this.container = container;
    this.body = container.querySelector("[data-chart-body]") || container;
    this.lastLabel = container.querySelector("[data-chart-last]");
    this.seriesDefs = series;
    this.xs = [];
    this.ys = series.map(() => []);
    this.height = height;
    this.zoom = null; // [min, max] of x while the user has zoomed in
    this.dirty = false;
    this.autoLog = logY === "auto";
    this.logY = logY === true;
    this.best = best;
    this.plotOptions = { xLabel, xIsEpoch };
    this.xMap = null; // shown x of a point's own x (another unit: epochs, seconds), or as is
    if (controls) this.addControls();
    this.plot = this.createPlot();
    this.observeSize();
    this.updateLabels();
    this.showControls();
  }

  /** A "log" toggle, a zoom hint and a "Reset zoom" button, in the chart's caption. */
  addControls() {
    const caption = this.container.querySelector("figcaption") || this.container;
    const box = document.createElement("span");
    box.className = "chart-controls";
    const label = document.createElement("label");
    label.className = "chart-log";
    this.logBox = document.createElement("input");
    this.logBox.type = "checkbox";
    this.logBox.dataset.logToggle = "";
    this.logBox.addEventListener("change", () => {
      this.autoLog = false; // the person chose: never switch on their behalf again
      this.setLog(this.logBox.checked);
    });
    label.append(this.logBox, " log");
    this.hint = document.createElement("span");
    this.hint.className = "chart-hint";
    this.hint.textContent = "drag to zoom";
    this.resetButton = document.createElement("button");
    this.resetButton.type = "button";
    this.resetButton.className = "button-quiet chart-reset";
    this.resetButton.textContent = "Reset zoom";
    this.resetButton.addEventListener("click", () => this.resetZoom());
    box.append(label, this.hint, this.resetButton);
    caption.append(box);
  }

  showControls() {
    this.container.dataset.log = String(this.logY);
    this.container.dataset.zoomed = String(this.zoom !== null);
    if (!this.logBox) return;
    this.logBox.checked = this.logY;
    this.resetButton.hidden = this.zoom === null;
    this.hint.hidden = this.zoom !== null || this.xs.length < 2;
  }

  /** Switch the y axis between linear and log (uPlot fixes a scale's kind at creation). */
  setLog(on) {
    if (on === this.logY) return;
    this.logY = on;
    this.plot.destroy();
    this.plot = this.createPlot();
    this.dirty = true;
    this.draw();
  }

  /**
   * Show x in another unit: `map(x)` of each point's own x (increasing with it; null leaves
   * the point out), on an axis called `label` (whole epochs when `isEpoch`). A null `map`
   * shows the points' own x again. The zoom is reset: it was in the old unit.
   */
  setX(label, map, isEpoch = false) {
    this.xMap = map;
    this.plotOptions = { xLabel: label, xIsEpoch: isEpoch };
    this.zoom = null;
    this.plot.destroy();
    this.plot = this.createPlot();
    this.dirty = true;
    this.draw();
  }

  /** The x of every point as shown, and which points have one. */
  shownXs() {
    if (!this.xMap) return { xs: this.xs, keep: null };
    const xs = [];
    const keep = [];
    this.xs.forEach((x, i) => {
      const shown = this.xMap(x);
      if (shown !== null && Number.isFinite(shown)) {
        xs.push(shown);
        keep.push(i);
      }
    });
    return { xs, keep };
  }

  resetZoom() {
    this.zoom = null;
    this.dirty = true;
    this.draw();
  }

  createPlot() {
    const { xLabel, xIsEpoch } = this.plotOptions;
    const UPlot = uPlotClass();
    const log = this.logY;
    const opts = {
      width: Math.max(this.body.clientWidth, 240),
      height: this.height,
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      scales: {
        // One epoch point sits mid-axis on whole epochs, not on a 0-2 axis ticked at 2.5.
        x: { time: false, range: xIsEpoch ? epochRange : undefined },
        y: log ? { distr: 3 } : {},
      },
      axes: [
        {
          label: xLabel,
          size: 40,
          incrs: xIsEpoch ? [1, 2, 5, 10, 20, 50, 100] : undefined,
          values: (u, splits, _axis, _space, step) => tickLabels(splits, step),
        },
        { size: 60, values: (u, splits, _axis, _space, step) => tickLabels(splits, step, log) },
      ],
      series: [
        { label: xLabel },
        ...this.seriesDefs.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 2,
          dash: s.dash,
          points: xIsEpoch ? { show: true } : {}, // else uPlot shows them only when sparse
          value: (u, v) => formatValue(v),
          spanGaps: true,
        })),
      ],
      hooks: {
        setScale: [(u, key) => key === "x" && this.scaleChanged(u)],
        draw: [(u) => this.drawBest(u)],
      },
    };
    return new UPlot(opts, [[], ...this.seriesDefs.map(() => [])], this.body);
  }

  /** The best point of the `best` series: a dashed vertical line through it, and a ring. */
  drawBest(u) {
    if (!this.best) return;
    const i = bestIndex(this.ys[this.best.series] || [], this.best.mode);
    this.container.dataset.bestX = i < 0 ? "" : String(this.xs[i]);
    const shownX = i < 0 ? null : this.xMap ? this.xMap(this.xs[i]) : this.xs[i];
    if (shownX === null || !Number.isFinite(shownX)) return;
    const x = u.valToPos(shownX, "x", true);
    const y = u.valToPos(this.ys[this.best.series][i], "y", true);
    const { ctx } = u;
    const { top, height } = u.bbox;
    ctx.save();
    ctx.strokeStyle = "#047857";
    ctx.lineWidth = devicePixelRatio;
    ctx.setLineDash([3 * devicePixelRatio, 3 * devicePixelRatio]);
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.beginPath();
    ctx.arc(x, y, 6 * devicePixelRatio, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.restore();
  }

  observeSize() {
    if (typeof ResizeObserver === "undefined") return;
    this.resizer = new ResizeObserver(() => {
      const width = Math.max(this.body.clientWidth, 240);
      if (width !== this.plot.width) this.plot.setSize({ width, height: this.height });
    });
    this.resizer.observe(this.body);
  }

  /** Whether a point at x would be new (x beyond the last point). */
  accepts(x) {
    const n = this.xs.length;
    return Number.isFinite(x) && (n === 0 || x > this.xs[n - 1]);
  }

  /** Append one point per series at x; returns false (and drops it) when x is not new. */
  append(x, values) {
    if (!this.accepts(x)) return false;
    this.xs.push(x);
    for (let s = 0; s < this.ys.length; s++) {
      const v = values[s];
      this.ys[s].push(v === undefined || v === null || !Number.isFinite(v) ? null : v);
    }
    this.dirty = true;
    return true;
  }

  /**
   * Insert points (xs increasing; rows[j] one value per series) at every x the chart does not
   * have yet, keeping xs sorted with no repeat. Returns the index of the first inserted point
   * (-1 when none was new); series values from there on may need recomputing (smoothing).
   */
  merge(xs, rows) {
    const first = mergeSorted(this.xs, this.ys, xs, rows);
    if (first >= 0) this.dirty = true;
    return first;
  }

  /** Replace every point (xs increasing; ys one array per series, as long as xs). */
  setData(xs, ys) {
    this.xs = xs;
    this.ys = ys;
    this.dirty = true;
  }

  /** Replace one series' values (same length as xs), e.g. after changing the smoothing. */
  replaceSeries(index, values) {
    this.ys[index] = values;
    this.dirty = true;
  }

  get pointCount() {
    return this.xs.length;
  }

  /** Redraw if anything changed since the last draw. Cheap when nothing did. */
  draw() {
    if (!this.dirty) return;
    this.dirty = false;
    if (this.autoLog && !this.logY && decadesSpanned(this.ys[0]) > AUTO_LOG_DECADES) {
      this.setLog(true); // redraws
      return;
    }
    const data = this.visibleData();
    this.drawing = true;
    this.plot.setData(data, this.zoom === null);
    if (this.zoom) this.plot.setScale("x", { min: this.zoom[0], max: this.zoom[1] });
    this.drawing = false;
    this.container.dataset.drawn = String(data[0].length);
    const shown = data[0];
    this.container.dataset.shownLastX = shown.length ? String(shown[shown.length - 1]) : "";
    this.updateLabels();
    this.showControls();
  }

  visibleData() {
    const { xs, keep } = this.shownXs();
    const series = keep ? this.ys.map((ys) => keep.map((i) => ys[i])) : this.ys;
    const n = xs.length;
    let lo = 0;
    let hi = n;
    if (this.zoom) {
      lo = Math.max(0, lowerBound(xs, this.zoom[0]) - 1);
      hi = Math.min(n, lowerBound(xs, this.zoom[1]) + 1);
    }
    if (hi - lo <= DECIMATE_ABOVE) {
      return [xs.slice(lo, hi), ...series.map((ys) => this.drawable(ys.slice(lo, hi)))];
    }
    // Two points (min and max) per pixel column of the first series keeps every spike visible.
    const buckets = Math.max(100, Math.floor(this.plot.bbox.width / devicePixelRatio || 800));
    const idx = minMaxIndices(series[0], lo, hi, buckets);
    return [idx.map((i) => xs[i]), ...series.map((ys) => this.drawable(idx.map((i) => ys[i])))];
  }

  /** A log axis cannot place zero or less: such points become gaps. */
  drawable(values) {
    return this.logY ? values.map((v) => (v !== null && v > 0 ? v : null)) : values;
  }

  scaleChanged(u) {
    if (this.drawing || !this.xs.length) return;
    const { min, max } = u.scales.x;
    const xs = u.data[0];
    const full = !xs.length || (min <= xs[0] && max >= xs[xs.length - 1]);
    this.zoom = full ? null : [min, max];
    this.showControls();
    if (this.xs.length > DECIMATE_ABOVE) {
      this.dirty = true;
      requestAnimationFrame(() => this.draw()); // re-decimate for the zoomed range
    }
  }

  updateLabels() {
    const n = this.xs.length;
    this.container.dataset.points = String(n);
    this.container.dataset.xAxis = this.plotOptions.xLabel;
    // The last point exactly (the label rounds it), for scripts and tests reading the chart.
    this.container.dataset.lastX = n ? String(this.xs[n - 1]) : "";
    this.container.dataset.lastY = n ? String(this.ys[0][n - 1]) : "";
    if (!this.lastLabel) return;
    if (!n) {
      this.lastLabel.textContent = "no data yet";
      return;
    }
    this.lastLabel.textContent = this.seriesDefs
      .map((s, i) => `${s.label} ${formatValue(this.ys[i][n - 1])}`)
      .join(" · ");
  }

  destroy() {
    this.resizer?.disconnect();
    this.plot.destroy();
  }
}
