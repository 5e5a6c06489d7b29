// The runs page's list of sweeps (GET /api/sweeps): name, recipe, status, trials done of
// the total and the best value so far, each linking to its sweep page. Kept live-ish: a
// trial's status message on the runs page's socket asks for a refresh, and while a sweep
// runs the list is also polled (the sweep's own status changes after its last trial's).
import { api, ApiError, query } from "./api.js";
import { badge, el, formatNumber, formatTime, replaceChildren } from "./dom.js";
import { sweepPageUrl } from "./urls.js";

const LIMIT = 20;
const REFRESH_DELAY_MS = 500;
const POLL_MS = 5000;

/** Trials that have ended, whichever way (complete, pruned or failed). */
function trialsDone(counts) {
  return (counts.complete || 0) + (counts.pruned || 0) + (counts.fail || 0);
}

function cell(label, content, cls) {
  return el("td", { "data-label": label, class: cls }, content);
}

function renderRow(sweep) {
  const best = sweep.best ? formatNumber(sweep.best.value) : "–";
  return el(
    "tr",
    { "data-sweep-id": sweep.id },
    cell("Name", el("a", { href: sweepPageUrl(sweep.id) }, sweep.name || sweep.id)),
    cell("Recipe", sweep.recipe || "–"),
    cell("Status", badge(sweep.stopping && sweep.status === "running" ? "stopping" : sweep.status), "status-cell"),
    cell("Trials", `${trialsDone(sweep.counts)} / ${sweep.n_trials}`, "num trials-cell"),
    cell("Best", el("span", { title: `${sweep.objective} (${sweep.direction})` }, best), "num best-cell"),
    cell("Objective", `${sweep.objective} (${sweep.direction})`),
    cell("Created", formatTime(sweep.created_at)),
  );
}

export class SweepsList {
  constructor(section) {
    this.body = section.querySelector("#sweeps-body");
    this.empty = section.querySelector("#sweeps-empty");
    this.more = section.querySelector("#sweeps-more");
    this.refreshTimer = null;
    this.pollTimer = null;
  }

  async load() {
    clearTimeout(this.pollTimer);
    let page; // {items, total, limit, offset}
    try {
      page = await api(`/api/sweeps${query({ limit: LIMIT })}`);
    } catch (err) {
      if (err instanceof ApiError) return; // the banner explains an unreachable server or token
      throw err;
    }
    replaceChildren(this.body, page.items.map(renderRow));
    this.empty.hidden = page.items.length > 0;
    this.more.hidden = page.total <= page.items.length;
    this.more.textContent = `The ${page.items.length} newest of ${page.total} sweeps.`;
    if (page.items.some((sweep) => sweep.status === "running")) {
      this.pollTimer = setTimeout(() => this.load(), POLL_MS);
    }
  }

  /** Reload soon, once, however many messages ask for it. */
  refreshSoon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.load(), REFRESH_DELAY_MS);
  }
}
