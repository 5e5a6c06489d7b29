// The compare page's table: every run's request (recipe, dataset, parameters, callbacks), its
// state and its best and final statistics, one column per run; the rows whose values differ
// between the runs are marked, so the parameters that explain a difference stand out.
import { el, formatNumber, formatSeconds, replaceChildren, STATUS_LABELS } from "./dom.js";
import { metricNames, metricOf } from "./messages.js";

function plain(value) {
  if (value === undefined || value === null) return "–";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

function callbacksText(run) {
  const callbacks = run.callbacks || [];
  if (!callbacks.length) return "none";
  return callbacks
    .map((cb) => {
      const params = Object.entries(cb.params || {}).map(([k, v]) => `${k}=${plain(v)}`);
      return params.length ? `${cb.name}(${params.join(", ")})` : cb.name;
    })
    .join("; ");
}

/** The best value of a statistic over a run's epochs and its epoch (from 1), or null. */
function best(epochs, split, name) {
  const lower = name === "loss" || /error/.test(name);
  let found = null;
  for (const [x, message] of epochs) {
    const v = metricOf(message, split, name);
    if (v === null) continue;
    if (found === null || (lower ? v < found.value : v > found.value)) found = { value: v, epoch: x };
  }
  return found;
}

/**
 * The table's rows for `entries` ([{run, epochs: Map(epoch from 1 -> message)}]): each
 * {section, label, values: [text per run], differs}.
 */
export function compareRows(entries) {
  const rows = [];
  const add = (section, label, values) => {
    const differs = entries.length > 1 && new Set(values).size > 1;
    rows.push({ section, label, values, differs });
  };
  add("run", "status", entries.map((e) => STATUS_LABELS[e.run.status] || e.run.status));
  add("run", "recipe", entries.map((e) => e.run.recipe));
  const keys = new Set();
  for (const e of entries) Object.keys(e.run.params || {}).forEach((k) => keys.add(k));
  // The dataset first: two runs on different data compare nothing else.
  const ordered = [...keys].sort((a, b) => (a === "dataset" ? -1 : b === "dataset" ? 1 : a.localeCompare(b)));
  for (const key of ordered) add("params", key, entries.map((e) => plain((e.run.params || {})[key])));
  add("callbacks", "callbacks", entries.map((e) => callbacksText(e.run)));
  add("result", "epochs done", entries.map((e) => String(e.epochs.size)));
  add("result", "duration", entries.map((e) => (e.run.duration ? formatSeconds(e.run.duration) : "–")));
  const names = new Set(["loss"]);
  for (const e of entries) for (const m of e.epochs.values()) metricNames(m).forEach((n) => names.add(n));
  for (const name of [...names].sort((a, b) => (a === "loss" ? -1 : b === "loss" ? 1 : a.localeCompare(b)))) {
    for (const split of ["valid", "train"]) {
      add(
        "result",
        `best ${split} ${name}`,
        entries.map((e) => {
          const found = best(e.epochs, split, name);
          return found ? `${formatNumber(found.value)} (epoch ${found.epoch})` : "–";
        }),
      );
      add(
        "result",
        `final ${split} ${name}`,
        entries.map((e) => {
          const last = [...e.epochs.values()].pop();
          return formatNumber(metricOf(last, split, name));
        }),
      );
    }
  }
  return rows;
}

/** Fill `table` (thead + tbody) with the rows of `entries`; differing rows get `differs`. */
export function renderCompareTable(table, entries, swatch) {
  const head = el(
    "tr",
    {},
    el("th", { scope: "col" }, "Runs"),
    entries.map((e) => el("th", { scope: "col" }, swatch(e.color), " ", e.run.name || e.id)),
  );
  const body = compareRows(entries).map((row) =>
    el(
      "tr",
      { class: row.differs ? "differs" : undefined, dataset: { row: row.label, section: row.section } },
      el("th", { scope: "row" }, row.label, row.differs ? el("span", { class: "visually-hidden" }, " (differs)") : null),
      row.values.map((value) => el("td", {}, value)),
    ),
  );
  replaceChildren(table.querySelector("thead"), head);
  replaceChildren(table.querySelector("tbody"), body);
}
