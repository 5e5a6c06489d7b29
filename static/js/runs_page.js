// The runs page: a sortable, searchable list (keyset pages) kept live from WS /ws/runs,
// deleting finished runs after a confirmation, the launch form, and the list of sweeps.
import { api, ApiError, query } from "./api.js";
import { initConnectionBanner } from "./connection.js";
import {
  badge,
  el,
  FINISHED,
  formatNumber,
  formatSeconds,
  formatTime,
  replaceChildren,
  setBadge,
} from "./dom.js";
import { FrameQueue } from "./frame_queue.js";
import { LaunchForm } from "./launch_form.js";
import { LRFinder } from "./lr_finder.js";
import { epochLabel, metricOf } from "./messages.js";
import { SweepsList } from "./sweeps_list.js";
import { runPageUrl } from "./urls.js";
import { MessageStream } from "./ws.js";

const PAGE_SIZE = 25;
const SEARCH_DELAY_MS = 250;

const state = {
  position: 0, // index of the first row shown, in the whole sorted list
  total: 0,
  status: "",
  search: "",
  tag: "",
  sort: "created_at",
  order: "desc",
  page: {}, // which page: {after} | {before} | {last: true} | {} (the first)
  next: null, // cursors of the neighbouring pages, from the last response
  prev: null,
  shown: 0,
  rows: new Map(), // run id -> {tr, run}
  selected: new Map(), // run id -> run (as last seen)
  refreshTimer: null,
  searchTimer: null,
};

const sweeps = new SweepsList(document.getElementById("sweeps"));

function cell(label, content, cls) {
  return el("td", { "data-label": label, class: cls }, content);
}

function latestCells(run) {
  const latest = run.latest || {};
  return [
    cell("Epoch", epochLabel(latest, run), "num"),
    cell("Train loss", formatNumber(metricOf(latest, "train", "loss")), "num"),
    cell("Valid loss", formatNumber(metricOf(latest, "valid", "loss")), "num"),
    cell("Train acc.", formatNumber(metricOf(latest, "train", "accuracy")), "num"),
    cell("Valid acc.", formatNumber(metricOf(latest, "valid", "accuracy")), "num"),
  ];
}

function tagButtons(run) {
  return (run.tags || []).map((tag) =>
    el("button", { type: "button", class: "tag", title: `Show runs tagged ${tag}`, onclick: () => filterByTag(tag) }, tag),
  );
}

function renderRow(run) {
  const name = run.name || run.id;
  const checkbox = el("input", {
    type: "checkbox",
    checked: state.selected.has(run.id),
    "aria-label": `Select ${name}`,
  });
  checkbox.addEventListener("change", () => {
    if (checkbox.checked) state.selected.set(run.id, run);
    else state.selected.delete(run.id);
    updateSelectionButtons();
  });
  const remove = el(
    "button",
    { type: "button", class: "button-quiet row-delete", "aria-label": `Delete ${name}`, hidden: !FINISHED.has(run.status) },
    "Delete",
  );
  remove.addEventListener("click", () => confirmDelete([run]));
  const tr = el(
    "tr",
    { "data-run-id": run.id },
    cell("Select", checkbox, "select-cell"),
    cell("Name", el("a", { href: runPageUrl(run.id) }, name)),
    cell("Recipe", run.recipe || "–"),
    cell("Status", badge(run.status), "status-cell"),
    ...latestCells(run),
    cell("Duration", durationText(run), "num duration-cell"),
    cell("Created", formatTime(run.created_at)),
    cell("Tags", tagButtons(run), "tags-cell"),
    cell("Actions", remove, "actions-cell"),
  );
  state.rows.set(run.id, { tr, run, seenAt: Date.now() });
  return tr;
}

/** "12.3 s": the server's duration (running stretches only), live while it runs. */
function durationText(run, seenAt = Date.now()) {
  if (!run.started_at && !run.duration) return "–";
  const live = run.status === "running" ? (Date.now() - seenAt) / 1000 : 0;
  return formatSeconds((run.duration || 0) + live);
}

async function loadPage() {
  const params = {
    limit: PAGE_SIZE,
    status: state.status,
    q: state.search,
    tag: state.tag,
    sort: state.sort,
    order: state.order,
    ...state.page,
  };
  let page; // {items, total, limit, offset, next, prev}
  try {
    page = await api(`/api/runs${query(params)}`);
  } catch (err) {
    if (err instanceof ApiError) return; // the banner explains an unreachable server or token
    throw err;
  }
  state.total = page.total;
  state.next = page.next;
  state.prev = page.prev;
  if (state.page.last) state.position = Math.max(0, page.total - page.items.length);
  else if (!state.page.after && !state.page.before) state.position = 0;
  state.shown = page.items.length;
  state.rows.clear();
  replaceChildren(document.getElementById("runs-body"), page.items.map(renderRow));
  const empty = document.getElementById("runs-empty");
  empty.hidden = page.items.length > 0;
  const filtered = state.status || state.search || state.tag;
  empty.textContent = filtered ? "No runs match." : "No runs yet. Start one with the form.";
  const first = page.items.length ? state.position + 1 : 0;
  const last = state.position + page.items.length;
  document.getElementById("page-info").textContent = `${first}–${last} of ${state.total}`;
  document.getElementById("page-prev").disabled = !page.prev;
  document.getElementById("page-first").disabled = !page.prev;
  document.getElementById("page-next").disabled = !page.next;
  document.getElementById("page-last").disabled = !page.next;
  showSort();
}

/** Go to a page: "first", "next", "prev" or "last" (keyset cursors from the server). */
function goTo(where) {
  if (where === "next" && state.next) {
    state.position += state.shown;
    state.page = { after: state.next };
  } else if (where === "prev" && state.prev) {
    state.position = Math.max(0, state.position - PAGE_SIZE);
    state.page = { before: state.prev };
  } else if (where === "last") {
    state.page = { last: true };
  } else {
    state.page = {};
  }
  loadPage();
}

/** The list from its first page again (a new sort, filter or search). */
function restart() {
  state.page = {};
  loadPage();
}

function showSort() {
  for (const th of document.querySelectorAll("th[data-sort]")) {
    const active = th.dataset.sort === state.sort;
    th.setAttribute("aria-sort", active ? (state.order === "asc" ? "ascending" : "descending") : "none");
  }
}

function filterByTag(tag) {
  state.tag = tag;
  document.getElementById("tag-filter-name").textContent = tag;
  document.getElementById("tag-filter").hidden = !tag;
  restart();
}

/** Reload the page soon, once, however many messages ask for it. */
function refreshSoon() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(loadPage, 300);
}

function applyMessages(messages) {
  // A run starting or ending may be a sweep's trial: its counts, best value or status moved.
  if (messages.some((message) => message.type === "status")) sweeps.refreshSoon();
  for (const message of messages) {
    const entry = state.rows.get(message.run_id);
    if (!entry) {
      // A run this page does not show yet: a new one belongs at the top of the first page.
      if (message.type === "status" && !state.prev) refreshSoon();
      continue;
    }
    if (message.type === "status") {
      entry.run.status = message.status;
      setBadge(entry.tr.querySelector(".status-cell .badge"), message.status);
      entry.tr.querySelector(".row-delete").hidden = !FINISHED.has(message.status);
      if (state.selected.has(message.run_id)) state.selected.set(message.run_id, entry.run);
      updateSelectionButtons();
      if (state.status && state.status !== message.status) refreshSoon();
      else if (FINISHED.has(message.status)) refreshSoon(); // its final duration
    } else if (message.type === "epoch") {
      entry.run.latest = message;
      const fresh = latestCells(entry.run);
      for (const node of fresh) {
        entry.tr.querySelector(`td[data-label="${node.dataset.label}"]`).replaceWith(node);
      }
    }
  }
}

function tickDurations() {
  for (const { tr, run, seenAt } of state.rows.values()) {
    if (run.status === "running") tr.querySelector(".duration-cell").textContent = durationText(run, seenAt);
  }
}

function updateSelectionButtons() {
  const button = document.getElementById("compare-button");
  button.disabled = state.selected.size < 1;
  button.textContent = state.selected.size
    ? `Compare selected (${state.selected.size})`
    : "Compare selected";
  const finished = [...state.selected.values()].filter((run) => FINISHED.has(run.status));
  const remove = document.getElementById("delete-selected");
  remove.disabled = finished.length === 0;
  remove.textContent = finished.length ? `Delete finished (${finished.length})` : "Delete selected";
}

let pendingDelete = [];

/** Ask before deleting: the runs, their history and their files go for good. */
function confirmDelete(runs) {
  pendingDelete = runs.filter((run) => FINISHED.has(run.status));
  if (!pendingDelete.length) return;
  const names = pendingDelete.map((run) => run.name || run.id);
  const shown = names.length > 3 ? `${names.slice(0, 3).join(", ")} and ${names.length - 3} more` : names.join(", ");
  document.getElementById("delete-dialog-title").textContent =
    pendingDelete.length === 1 ? "Delete this run?" : `Delete ${pendingDelete.length} runs?`;
  document.getElementById("delete-dialog-text").textContent =
    `${shown}: the history, checkpoints and downloads go for good.`;
  document.getElementById("delete-dialog").showModal();
}

async function deletePending() {
  const ids = pendingDelete.map((run) => run.id);
  pendingDelete = [];
  const node = document.getElementById("delete-result");
  try {
    const result = await api("/api/runs/bulk/delete", { method: "POST", body: { ids } });
    for (const id of result.deleted) state.selected.delete(id);
    const refused = Object.keys(result.refused).length;
    node.textContent =
      `Deleted ${result.deleted.length} ${result.deleted.length === 1 ? "run" : "runs"}` +
      (refused ? `; ${refused} still training ${refused === 1 ? "was" : "were"} kept.` : ".");
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    node.textContent = `Could not delete: ${err.message}`;
  }
  node.hidden = false;
  updateSelectionButtons();
  loadPage();
}

function wireControls() {
  document.getElementById("status-filter").addEventListener("change", (event) => {
    state.status = event.target.value;
    restart();
  });
  document.getElementById("runs-search").addEventListener("input", (event) => {
    clearTimeout(state.searchTimer);
    state.searchTimer = setTimeout(() => {
      state.search = event.target.value.trim();
      restart();
    }, SEARCH_DELAY_MS);
  });
  document.getElementById("tag-filter-clear").addEventListener("click", () => filterByTag(""));
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => {
      const key = th.dataset.sort;
      const textual = key === "name" || key === "recipe" || key === "status";
      if (state.sort === key) state.order = state.order === "asc" ? "desc" : "asc";
      else state.order = textual ? "asc" : "desc";
      state.sort = key;
      restart();
    });
  }
  document.getElementById("sort-select").addEventListener("change", (event) => {
    [state.sort, state.order] = event.target.value.split(":");
    restart();
  });
  for (const where of ["first", "prev", "next", "last"]) {
    document.getElementById(`page-${where}`).addEventListener("click", () => goTo(where));
  }
  document.getElementById("compare-button").addEventListener("click", () => {
    const ids = [...state.selected.keys()].map(encodeURIComponent).join(",");
    window.location.assign(`/compare?ids=${ids}`);
  });
  document.getElementById("delete-selected").addEventListener("click", () => {
    confirmDelete([...state.selected.values()]);
  });
  const dialog = document.getElementById("delete-dialog");
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "delete") deletePending();
    else pendingDelete = [];
  });
  setInterval(tickDurations, 1000);
}

function connectLive() {
  const indicator = document.getElementById("runs-live");
  const queue = new FrameQueue(applyMessages);
  let wasClosed = false;
  const stream = new MessageStream("/ws/runs", {
    onMessages: (messages) => queue.pushAll(messages),
    onState: (s) => {
      indicator.dataset.state = s;
      indicator.textContent = s === "open" ? "live" : s === "closed" ? "reconnecting…" : "connecting…";
      if (s === "closed") wasClosed = true;
      if (s === "open" && wasClosed) {
        loadPage(); // catch up on what happened while away
        sweeps.load();
      }
    },
  });
  stream.connect();
  window.addEventListener("pagehide", () => stream.close());
}

async function main() {
  initConnectionBanner();
  wireControls();
  updateSelectionButtons();
  connectLive();
  const formNode = document.getElementById("launch-form");
  const form = new LaunchForm(formNode);
  new LRFinder(formNode, form).attach();
  const formLoaded = form.load().catch((err) => {
    const box = formNode.querySelector("[data-form-error]");
    box.textContent = `Could not load the recipes: ${err.message}`;
    box.hidden = false;
  });
  await Promise.all([loadPage(), sweeps.load(), formLoaded]);
}

main();
