// The compare page's parallel coordinates, for three runs or more: an axis per parameter
// whose value differs between the runs, and one for the chosen statistic (its best value
// over each run's epochs); a line per run, in the run's colour.
import { drawParallelCoordinates, showParallelNote } from "./parallel_coords.js";
import { formatNumber } from "./dom.js";
import { metricOf } from "./messages.js";

export const MIN_RUNS = 3; // with two, the table says it as plainly

/** The best of `split name` over a run's epochs (lowest for a loss or an error), or null. */
export function bestOf(epochs, split, name) {
  const lower = name === "loss" || /error/.test(name);
  let found = null;
  for (const message of epochs.values()) {
    const v = metricOf(message, split, name);
    if (v !== null && (found === null || (lower ? v < found : v > found))) found = v;
  }
  return found;
}

/** One axis per parameter whose values differ: numeric when every run's is a number. */
export function differingParamAxes(entries) {
  const keys = new Set();
  for (const e of entries) Object.keys(e.run.params || {}).forEach((k) => keys.add(k));
  const axes = [];
  for (const key of [...keys].sort()) {
    const values = entries.map((e) => (e.run.params || {})[key] ?? null);
    const texts = values.map((v) => JSON.stringify(v));
    if (new Set(texts).size < 2) continue;
    if (values.every((v) => typeof v === "number")) {
      axes.push({ name: key, kind: "number", value: (e) => e.run.params[key] });
    } else {
      const shown = (e) => {
        const v = (e.run.params || {})[key];
        return v === undefined || v === null ? "–" : typeof v === "string" ? v : JSON.stringify(v);
      };
      const choices = [...new Set(entries.map(shown))].sort();
      axes.push({ name: key, kind: "category", choices, value: shown });
    }
  }
  return axes;
}

/**
 * Fill `figure` for `entries` ([{id, run, epochs, color}]) and the statistic `chosen`
 * ("valid loss"; "" means valid loss): hidden with fewer than MIN_RUNS runs.
 */
export function renderCompareParallel(figure, entries, chosen) {
  const body = figure.querySelector("[data-chart-body]");
  figure.hidden = entries.length < MIN_RUNS;
  if (figure.hidden) return;
  const [split, name] = (chosen || "valid loss").split(" ");
  const statistic = `best ${split} ${name.replace(/_/g, " ")}`;
  const items = entries.filter((e) => bestOf(e.epochs, split, name) !== null);
  const axes = differingParamAxes(entries);
  figure.querySelector("[data-parallel-title]").textContent = `Parameters that differ against the ${statistic}`;
  const signature = JSON.stringify([split, name, axes.map((a) => a.name), items.map((e) => [e.id, bestOf(e.epochs, split, name)])]);
  if (body.dataset.signature === signature) return;
  body.dataset.signature = signature;
  if (items.length < MIN_RUNS) {
    showParallelNote(body, `Once ${MIN_RUNS} of the runs have a ${split} ${name}.`);
    return;
  }
  axes.push({ name: statistic, kind: "number", value: (e) => bestOf(e.epochs, split, name) });
  drawParallelCoordinates(body, {
    axes,
    items,
    title: (e) => `${e.run.name || e.id}: ${formatNumber(bestOf(e.epochs, split, name))}`,
    label: `Parallel coordinates of the differing parameters against the ${statistic}`,
  });
}
