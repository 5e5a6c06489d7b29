// Parallel coordinates in SVG: one vertical axis per quantity, one polyline per item (a
// sweep's trial, a compared run). Shared by the sweep page and the compare page.
import { COLORS } from "./charts.js";
import { el, formatNumber, replaceChildren } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const PAD = { top: 24, bottom: 28, side: 56 };

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

/** Integers as they are (trial numbers, batch sizes), other numbers as the dashboard shows them. */
function shown(value) {
  if (typeof value !== "number") return String(value);
  return Number.isInteger(value) ? String(value) : formatNumber(value);
}

/**
 * y of each value on an axis: {kind: "category", choices} spreads the choices evenly;
 * {kind: "number", log?, low?, high?} maps low..high (default: the items' range), log
 * spaced when `log`. `.ticks` are the [value, y] pairs to label.
 */
function scaleFor(axis, items, height) {
  const span = height - PAD.top - PAD.bottom;
  if (axis.kind === "category") {
    const choices = axis.choices;
    const at = (v) => PAD.top + span * (1 - Math.max(0, choices.indexOf(v)) / Math.max(1, choices.length - 1));
    at.ticks = choices.length === 1 ? [[choices[0], at(choices[0])]] : choices.map((c) => [c, at(c)]);
    return at;
  }
  const raw = items.map((item) => axis.value(item));
  const log = Boolean(axis.log);
  const low = axis.low ?? Math.min(...raw);
  const high = axis.high ?? Math.max(...raw);
  const f = (v) => (log ? Math.log(v) : v);
  const at = (v) => PAD.top + span * (1 - (high === low ? 0.5 : (f(v) - f(low)) / (f(high) - f(low))));
  at.ticks = high === low ? [[low, at(low)]] : [[low, at(low)], [high, at(high)]];
  return at;
}

/**
 * Draw into `body` (emptied first): `axes` [{name, kind, value(item), ...scale}], a line per
 * item of `items`, titled `title(item)`, drawn darker the higher `shade(item)` (0..1).
 * Returns the <svg>.
 */
export function drawParallelCoordinates(body, { axes, items, title, shade = () => 1, label }) {
  replaceChildren(body);
  const width = Math.max(body.clientWidth, 320);
  const height = 240;
  const step = axes.length > 1 ? (width - 2 * PAD.side) / (axes.length - 1) : 0;
  const root = svg("svg", { width, height, role: "img", "aria-label": label });
  const scales = axes.map((axis) => scaleFor(axis, items, height));
  for (const item of items) {
    const points = axes.map((axis, i) => `${PAD.side + i * step},${scales[i](axis.value(item))}`);
    const line = svg("polyline", {
      points: points.join(" "),
      fill: "none",
      stroke: item.color || COLORS[0],
      "stroke-opacity": (0.15 + 0.85 * shade(item)).toFixed(2),
      "stroke-width": 1.5,
    });
    line.append(svg("title"));
    line.firstChild.textContent = title(item);
    root.append(line);
  }
  axes.forEach((axis, i) => {
    const x = PAD.side + i * step;
    root.append(svg("line", { x1: x, x2: x, y1: PAD.top, y2: height - PAD.bottom, stroke: "#6b7280" }));
    const name = svg("text", { x, y: 14, "text-anchor": "middle", "font-size": 12, "data-axis": axis.name });
    name.textContent = axis.name;
    root.append(name);
    for (const [value, y] of scales[i].ticks) {
      const tick = svg("text", { x: x + 3, y: y + 4, "font-size": 10, fill: "#4b5563" });
      tick.textContent = shown(value);
      root.append(tick);
    }
  });
  body.append(root);
  return root;
}

/** A note in place of the plot (no data yet). */
export function showParallelNote(body, text) {
  replaceChildren(body, el("p", { class: "empty" }, text));
}
