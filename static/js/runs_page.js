// The runs page: a paginated, filterable list kept live from WS /ws/runs, and the launch form.
import { api, ApiError, query } from "./api.js";
import { initConnectionBanner } from "./connection.js";
import { badge, el, formatNumber, formatTime, replaceChildren, setBadge } from "./dom.js";
import { FrameQueue } from "./frame_queue.js";
import { LaunchForm } from "./launch_form.js";
import { LRFinder } from "./lr_finder.js";
import { epochLabel, metricOf } from "./messages.js";
import { runPageUrl } from "./urls.js";
import { MessageStream } from "./ws.js";

const PAGE_SIZE = 25;

const state = {
  offset: 0,
  total: 0,
  status: "",
  rows: new Map(), // run id -> {tr, run}
  selected: new Set(),
  refreshTimer: null,
};

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

function renderRow(run) {
  const name = run.name || run.id;
  const checkbox = el("input", {
    type: "checkbox",
    checked: state.selected.has(run.id),
    "aria-label": `Select ${name} for comparison`,
  });
  checkbox.addEventListener("change", () => {
    if (checkbox.checked) state.selected.add(run.id);
    else state.selected.delete(run.id);
    updateCompareButton();
  });
  const tr = el(
    "tr",
    { "data-run-id": run.id },
    cell("Select", checkbox, "select-cell"),
    cell("Name", el("a", { href: runPageUrl(run.id) }, name)),
    cell("Recipe", run.recipe || "–"),
    cell("Status", badge(run.status), "status-cell"),
    ...latestCells(run),
    cell("Created", formatTime(run.created_at)),
  );
  state.rows.set(run.id, { tr, run });
  return tr;
}

async function loadPage() {
  const params = { limit: PAGE_SIZE, offset: state.offset, status: state.status };
  let page; // {items, total, limit, offset}
  try {
    page = await api(`/api/runs${query(params)}`);
  } catch (err) {
    if (err instanceof ApiError) return; // the banner explains an unreachable server or token
    throw err;
  }
  state.total = page.total;
  state.rows.clear();
  replaceChildren(document.getElementById("runs-body"), page.items.map(renderRow));
  document.getElementById("runs-empty").hidden = page.items.length > 0;
  document.getElementById("runs-empty").textContent = state.status
    ? "No runs with this status."
    : "No runs yet. Start one with the form.";
  const first = page.items.length ? state.offset + 1 : 0;
  const last = state.offset + page.items.length;
  document.getElementById("page-info").textContent = `${first}–${last} of ${state.total}`;
  document.getElementById("page-prev").disabled = state.offset === 0;
  document.getElementById("page-next").disabled = last >= state.total;
}

/** Reload the page soon, once, however many messages ask for it. */
function refreshSoon() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(loadPage, 300);
}

function applyMessages(messages) {
  for (const message of messages) {
    const entry = state.rows.get(message.run_id);
    if (!entry) {
      // A run this page does not show yet: a new one belongs at the top of the first page.
      if (message.type === "status" && state.offset === 0) refreshSoon();
      continue;
    }
    if (message.type === "status") {
      entry.run.status = message.status;
      setBadge(entry.tr.querySelector(".status-cell .badge"), message.status);
      if (state.status && state.status !== message.status) refreshSoon();
    } else if (message.type === "epoch") {
      entry.run.latest = message;
      const cells = entry.tr.querySelectorAll("td");
      latestCells(entry.run).forEach((fresh, i) => cells[4 + i].replaceWith(fresh));
    }
  }
}

function updateCompareButton() {
  const button = document.getElementById("compare-button");
  button.disabled = state.selected.size < 1;
  button.textContent = state.selected.size
    ? `Compare selected (${state.selected.size})`
    : "Compare selected";
}

function wireControls() {
  document.getElementById("status-filter").addEventListener("change", (event) => {
    state.status = event.target.value;
    state.offset = 0;
    loadPage();
  });
  document.getElementById("page-prev").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    loadPage();
  });
  document.getElementById("page-next").addEventListener("click", () => {
    state.offset += PAGE_SIZE;
    loadPage();
  });
  document.getElementById("compare-button").addEventListener("click", () => {
    const ids = [...state.selected].map(encodeURIComponent).join(",");
    window.location.assign(`/compare?ids=${ids}`);
  });
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
      if (s === "open" && wasClosed) loadPage(); // catch up on what happened while away
    },
  });
  stream.connect();
  window.addEventListener("pagehide", () => stream.close());
}

async function main() {
  initConnectionBanner();
  wireControls();
  updateCompareButton();
  connectLive();
  const formNode = document.getElementById("launch-form");
  const form = new LaunchForm(formNode);
  new LRFinder(formNode, form).attach();
  const formLoaded = form.load().catch((err) => {
    const box = formNode.querySelector("[data-form-error]");
    box.textContent = `Could not load the recipes: ${err.message}`;
    box.hidden = false;
  });
  await Promise.all([loadPage(), formLoaded]);
}

main();
