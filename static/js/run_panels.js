// The run page's panels: attached callbacks (attach / detach), the event log, the config.
import { api, ApiError } from "./api.js";
import { el, formatNumber, formatTime, replaceChildren, STATUS_LABELS } from "./dom.js";
import {
  epochNumber,
  heldAt,
  hyperText,
  metricNames,
  metricOf,
  stopReasonText,
  whereLabel,
} from "./messages.js";
import { forkPointLabel } from "./fork_panel.js";
import { buildSchemaFields, clearErrors, fillSelect, showErrors } from "./schema_form.js";
import { runUrl } from "./urls.js";

function paramsText(params) {
  const entries = Object.entries(params || {});
  if (!entries.length) return "default parameters";
  return entries.map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : v}`).join(", ");
}

export class CallbacksPanel {
  constructor(root, runId) {
    this.runId = runId;
    this.list = root.querySelector("#callback-list");
    this.form = root.querySelector("#attach-form");
    this.select = root.querySelector("#attach-select");
    this.paramsBox = root.querySelector("#attach-params");
    this.closedNote = root.querySelector("#attach-closed");
    this.attached = new Map(); // callback id -> {id, name, params}
    this.done = new Map(); // callback id -> the message of a one-shot callback that has acted
    this.specs = [];
    this.live = false;
  }

  async load() {
    this.specs = await api("/api/callbacks");
    fillSelect(this.select, this.specs);
    this.select.addEventListener("change", () => this.showSpec());
    this.form.addEventListener("submit", (event) => this.attach(event));
    this.showSpec();
  }

  /** Say why the attach form is unusable (the catalog could not be loaded). */
  showError(err) {
    const box = this.form.querySelector("[data-form-error]");
    box.textContent = `Could not load the callbacks: ${err.message}`;
    box.hidden = false;
  }

  showSpec() {
    const spec = this.specs.find((s) => s.name === this.select.value);
    replaceChildren(this.paramsBox);
    this.form.querySelector("#attach-help").textContent = spec ? spec.description || "" : "";
    this.params = spec ? buildSchemaFields(this.paramsBox, spec.params_schema, "params.") : null;
  }

  /** Attaching only makes sense while the run can still train. */
  setLive(live) {
    this.live = live;
    this.form.hidden = !live;
    this.closedNote.hidden = live;
    this.render();
  }

  set(callbacks) {
    this.attached.clear();
    for (const cb of callbacks || []) this.attached.set(cb.id, cb);
    this.render();
  }

  /**
   * A `callback` message (action "attached" or "detached", with id, name, params): the one
   * thing that changes the list, for this page's own attach and detach as for anyone else's,
   * so a change shows once and in the order the server made it.
   */
  apply(message) {
    if (message.action === "attached") {
      this.attached.set(message.id, { id: message.id, name: message.name, params: message.params });
    } else if (message.action === "detached") {
      this.attached.delete(message.id);
    } else {
      return;
    }
    this.render();
  }

  /**
   * A message naming a callback that has done what it joined for (`hyper` with
   * `callback_id`, from set_hyperparameter): it stays listed, as applied, with nothing left
   * to detach.
   */
  acted(message) {
    if (!message.callback_id) return;
    this.done.set(message.callback_id, message);
    this.render();
  }

  render() {
    const items = [...this.attached.values()].map((cb) => {
      const about = el("div", {}, el("strong", {}, cb.name), " ", el("span", { class: "params" }, paramsText(cb.params)));
      const acted = this.done.get(cb.id);
      if (acted) {
        const where = whereLabel(acted);
        about.append(" ", el("span", { class: "callback-done" }, where ? `applied at ${where}` : "applied"));
        return el("li", { "data-callback-id": cb.id, "data-done": "" }, about);
      }
      const detach = el("button", { type: "button", class: "button-quiet" }, "Detach");
      detach.setAttribute("aria-label", `Detach ${cb.name}`);
      detach.hidden = !this.live;
      detach.addEventListener("click", () => this.detach(cb, detach));
      return el("li", { "data-callback-id": cb.id }, about, detach);
    });
    if (!items.length) items.push(el("li", { class: "empty" }, "No callbacks attached."));
    replaceChildren(this.list, items);
  }

  async attach(event) {
    event.preventDefault();
    clearErrors(this.form);
    const submit = this.form.querySelector("#attach-submit");
    submit.disabled = true;
    try {
      const body = { name: this.select.value, params: this.params ? this.params.collect() : {} };
      // The reply is not applied: the `callback` message that follows adds it to the list.
      await api(runUrl(this.runId, "callbacks"), { method: "POST", body });
      this.showSpec(); // fresh fields for the next one
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      showErrors(this.form, err);
    } finally {
      submit.disabled = !this.live;
    }
  }

  async detach(cb, button) {
    button.disabled = true;
    try {
      // The `callback` message that follows removes it (and this button) from the list.
      await api(runUrl(this.runId, "callbacks", cb.id), { method: "DELETE" });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      button.disabled = false;
      const box = this.form.querySelector("[data-form-error]");
      box.textContent = `Could not detach ${cb.name}: ${err.message}`;
      box.hidden = false;
    }
  }
}

function clock(message) {
  if (!Number.isFinite(message.time)) return "";
  return new Date(message.time * 1000).toLocaleTimeString();
}

/** A `fork` message, in the parent's log ("forked as …") or in the fork's ("forked from …"). */
function forkLine(message, runId) {
  if (!message.point) return { kind: "error", text: `fork ${message.child_id} failed: ${message.error}` };
  const at = forkPointLabel(message.point);
  if (runId === message.child_id) return { kind: "status", text: `forked from ${message.parent_id} at ${at}` };
  return { kind: "status", text: `forked as ${message.child_id} at ${at}` };
}

/** The log line for a message, or null for messages the log does not show (batches). */
function describe(message, runId) {
  switch (message.type) {
    case "status": {
      const label = STATUS_LABELS[message.status] || message.status;
      if (message.error) return { kind: "error", text: `${label}: ${message.error}` };
      const reason = stopReasonText(message.stop_reason);
      if (reason) return { kind: "status", text: `${label} — ${reason}` };
      // A pause, and the resume after it, happen at a batch boundary the message names.
      const at = heldAt(message);
      const resumed = message.status === "running" ? "resumed " : "";
      return { kind: "status", text: at ? `${label} — ${resumed}at ${at}` : label };
    }
    case "early_stop": {
      const value = Number.isFinite(message.value) ? ` (${message.monitor} = ${formatNumber(message.value)})` : "";
      return { kind: "early_stop", text: `${message.reason || "early stop"}${value}, at ${whereLabel(message)}` };
    }
    case "callback":
      return { kind: "callback", text: `${message.action} ${message.name} (${paramsText(message.params)})` };
    case "hyper": {
      const epoch = epochNumber(message);
      return { kind: "hyper", text: epoch === null ? hyperText(message) : `${hyperText(message)} (epoch ${epoch})` };
    }
    case "evaluation": {
      const stats = ["loss", ...metricNames(message)].map(
        (name) => `${name} ${formatNumber(metricOf(message, "valid", name))}`,
      );
      return { kind: "evaluation", text: `valid ${stats.join(", ")}, at ${whereLabel(message)}` };
    }
    case "epoch": {
      const stats = ["loss", ...metricNames(message)].map(
        (name) => `${name} ${formatNumber(metricOf(message, "train", name))} / ${formatNumber(metricOf(message, "valid", name))}`,
      );
      return { kind: "epoch", text: `epoch ${epochNumber(message)}: ${stats.join(", ")} (train / valid)` };
    }
    case "resumed": {
      const to = Number.isFinite(message.epochs) ? `, to epoch ${message.epochs}` : "";
      return {
        kind: "status",
        text: `resumed from ${message.checkpoint} after epoch ${message.after_epoch + 1}${to}`,
      };
    }
    case "fork":
      return forkLine(message, runId);
    case "error":
      return { kind: "error", text: message.message || message.error || "error" };
    default:
      return null;
  }
}

export class EventLog {
  constructor(list, runId) {
    this.list = list;
    this.runId = runId; // the page's run: a fork message reads differently in parent and child
  }

  add(messages) {
    const lines = [];
    for (const message of messages) {
      const line = describe(message, this.runId);
      if (!line) continue;
      lines.push(
        el(
          "li",
          { class: `event-${line.kind}`, "data-seq": message.seq, "data-type": message.type },
          el("span", { class: "event-kind" }, line.kind.replace("_", " ")),
          line.text,
          el("span", { class: "event-meta" }, clock(message)),
        ),
      );
    }
    if (!lines.length) return;
    const atBottom = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 8;
    this.list.append(...lines);
    if (atBottom) this.list.scrollTop = this.list.scrollHeight; // follow, unless reading back
  }
}

function configValue(value) {
  if (value === null || value === undefined) return "–";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * The run's configuration as a definition list. `changes` (name -> {value, iter}, from `hyper`
 * messages) are shown instead of the launch value, which stays visible beside them.
 */
export function renderConfig(dl, run, changes = new Map()) {
  const params = run.params || {};
  const shownValue = (name, launched) => {
    const change = changes.get(name);
    if (!change) return configValue(launched);
    const was = launched === undefined ? "" : `; launched with ${configValue(launched)}`;
    return `${configValue(change.value)} (from iteration ${change.iter}${was})`;
  };
  const added = [...changes.keys()].filter((name) => !(name in params));
  const rows = [
    ["Run id", run.id],
    ["Recipe", run.recipe],
    ...Object.entries(params).map(([k, v]) => [k, shownValue(k, v)]),
    ...added.map((name) => [name, shownValue(name, undefined)]),
    ["Created", formatTime(run.created_at)],
    ["Finished", formatTime(run.finished_at)],
  ];
  replaceChildren(dl, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v ?? "–"))]));
}
