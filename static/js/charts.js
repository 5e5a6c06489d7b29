// Live line charts on the vendored uPlot (static/vendor/uplot, loaded as the global `uPlot`).
// Points are appended as messages arrive; the page calls draw() once per animation frame.
import { lowerBound, mergeSorted, minMaxIndices } from "./decimate.js";
import { formatNumber as formatValue } from "./dom.js";

export const COLORS = ["#1d4ed8", "#c2410c", "#047857", "#7e22ce", "#b91c1c", "#0e7490", "#a16207"];
const DECIMATE_ABOVE = 4000; // points; fewer than this are drawn as they are

function uPlotClass() {
  if (!globalThis.uPlot) throw new Error("uPlot did not load (static/vendor/uplot)");
  return globalThis.uPlot;
}

/** One chart: a shared x axis and one or more y series, appended in increasing x. */
export class LiveChart {
  /**
   * container: an element with a [data-chart-body] child and optionally [data-chart-last].
   * series: [{label, color, dash?, width?}]; xLabel names the x axis.
   */
  constructor(container, { series, xLabel, height = 220, logY = false, xIsEpoch = false }) {
    this.container = container;
    this.body = container.querySelector("[data-chart-body]") || container;
    this.lastLabel = container.querySelector("[data-chart-last]");
    this.seriesDefs = series;
    this.xs = [];
    this.ys = series.map(() => []);
    this.height = height;
    this.zoom = null; // [min, max] of x while the user has zoomed in
    this.dirty = false;
    this.plot = this.createPlot({ xLabel, logY, xIsEpoch });
    this.observeSize();
    this.updateLabels();
  }

  createPlot({ xLabel, logY, xIsEpoch }) {
    const UPlot = uPlotClass();
    const opts = {
      width: Math.max(this.body.clientWidth, 240),
      height: this.height,
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false }, y: logY ? { distr: 3 } : {} },
      axes: [
        { label: xLabel, size: 40, incrs: xIsEpoch ? [1, 2, 5, 10, 20, 50, 100] : undefined },
        { size: 56 },
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
      hooks: { setScale: [(u, key) => key === "x" && this.scaleChanged(u)] },
    };
    return new UPlot(opts, [[], ...this.seriesDefs.map(() => [])], this.body);
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
    const data = this.visibleData();
    this.drawing = true;
    this.plot.setData(data, this.zoom === null);
    if (this.zoom) this.plot.setScale("x", { min: this.zoom[0], max: this.zoom[1] });
    this.drawing = false;
    this.container.dataset.drawn = String(data[0].length);
    this.updateLabels();
  }

  visibleData() {
    const n = this.xs.length;
    let lo = 0;
    let hi = n;
    if (this.zoom) {
      lo = Math.max(0, lowerBound(this.xs, this.zoom[0]) - 1);
      hi = Math.min(n, lowerBound(this.xs, this.zoom[1]) + 1);
    }
    if (hi - lo <= DECIMATE_ABOVE) {
      return [this.xs.slice(lo, hi), ...this.ys.map((ys) => ys.slice(lo, hi))];
    }
    // Two points (min and max) per pixel column of the first series keeps every spike visible.
    const buckets = Math.max(100, Math.floor(this.plot.bbox.width / devicePixelRatio || 800));
    const idx = minMaxIndices(this.ys[0], lo, hi, buckets);
    return [idx.map((i) => this.xs[i]), ...this.ys.map((ys) => idx.map((i) => ys[i]))];
  }

  scaleChanged(u) {
    if (this.drawing || !this.xs.length) return;
    const { min, max } = u.scales.x;
    const full = min <= this.xs[0] && max >= this.xs[this.xs.length - 1];
    this.zoom = full ? null : [min, max];
    if (this.xs.length > DECIMATE_ABOVE) {
      this.dirty = true;
      requestAnimationFrame(() => this.draw()); // re-decimate for the zoomed range
    }
  }

  updateLabels() {
    const n = this.xs.length;
    this.container.dataset.points = String(n);
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
