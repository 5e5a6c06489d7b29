// The run page's hyperparameter editor: lr, momentum and weight decay of a live run, changed
// through PATCH /api/runs/{id}/hypers. The server validates and says when a change took
// effect (a `hyper` message); the editor sends what was typed and shows either answer.
import { api, ApiError } from "./api.js";
import { HYPER_NAMES, hyperText, lastLearningRate } from "./messages.js";
import { buildSchemaFields, clearErrors, showErrors } from "./schema_form.js";
import { runUrl } from "./urls.js";

// Only for the fields' inputs and hints: the server's bounds (docs/api.md) are the ones that
// count, and a value outside them comes back as a 422 shown next to its field.
const HYPER_SCHEMA = {
  properties: {
    lr: { type: "number", exclusiveMinimum: 0, maximum: 10, description: "Learning rate." },
    momentum: { type: "number", minimum: 0, maximum: 0.999, description: "SGD momentum." },
    weight_decay: { type: "number", minimum: 0, maximum: 1, description: "L2 penalty." },
  },
};

/** Statuses in which the server takes a change (a paused run applies it when it goes on). */
const EDITABLE = new Set(["running", "paused"]);

export class HyperEditor {
  constructor(root, runId) {
    this.runId = runId;
    this.form = root.querySelector("#hyper-form");
    this.applyButton = this.form.querySelector("#hyper-apply");
    this.ack = root.querySelector("#hyper-ack");
    this.closedNote = root.querySelector("#hyper-closed");
    this.fields = buildSchemaFields(root.querySelector("#hyper-fields"), HYPER_SCHEMA);
    const inputOf = (name) => this.form.querySelector(`[name="${name}"]`);
    this.inputs = new Map(HYPER_NAMES.map((name) => [name, inputOf(name)]));
    this.current = new Map(); // name -> the value the run trains with, as far as the page knows
    this.shown = new Map(); // name -> the text the editor last put in the input
    this.changes = new Map(); // name -> {value, iter}: set through a `hyper` message
    this.editable = false;
    this.sending = false;
    this.hyperMessages = 0; // seen so far: one may arrive before the PATCH's own reply
    this.form.addEventListener("submit", (event) => this.submit(event));
  }

  /** Starting values: the run's parameters (lr until a batch says otherwise). */
  setRun(run) {
    const params = run.params || {};
    for (const name of HYPER_NAMES) {
      if (typeof params[name] === "number") this.current.set(name, params[name]);
    }
    this.render();
  }

  /** A batch or epoch message: the lr the optimizer trains with now (schedules change it). */
  observe(message) {
    const lr = lastLearningRate(message);
    if (lr !== null) this.current.set("lr", lr);
  }

  /** A `hyper` message: the change took effect at `iter`, whoever asked for it. */
  applied(message) {
    for (const [name, value] of Object.entries(message.values || {})) {
      this.current.set(name, value);
      this.changes.set(name, { value, iter: message.iter });
    }
    this.hyperMessages += 1;
    this.ack.textContent = hyperText(message);
  }

  setStatus(status, finished) {
    this.editable = EDITABLE.has(status);
    this.form.hidden = finished;
    this.closedNote.hidden = !finished;
    for (const input of this.inputs.values()) input.disabled = !this.editable;
    this.applyButton.disabled = !this.editable || this.sending;
  }

  /**
   * Show the current values, except in an input the person has typed into since (their edit
   * wins until it is applied or they put the shown value back).
   */
  render() {
    for (const [name, input] of this.inputs) {
      if (!this.current.has(name)) continue;
      const text = String(this.current.get(name));
      const edited = this.shown.has(name) ? input.value !== this.shown.get(name) : input.value !== "";
      if (edited && input.value !== text) continue;
      input.value = text;
      this.shown.set(name, text);
    }
  }

  /** Only what differs from the run's current values; a blank input changes nothing. */
  changedValues() {
    const typed = this.fields.collect();
    const changed = Object.entries(typed).filter(([name, value]) => value !== this.current.get(name));
    return Object.fromEntries(changed);
  }

  async submit(event) {
    event.preventDefault();
    clearErrors(this.form);
    const body = this.changedValues();
    if (!Object.keys(body).length) {
      this.ack.textContent = "Nothing to apply: every value is the run's current one.";
      return;
    }
    this.sending = true;
    this.applyButton.disabled = true;
    const before = this.hyperMessages;
    try {
      await api(runUrl(this.runId, "hypers"), { method: "PATCH", body });
      // The `hyper` message says from which iteration; until it comes, say it is on its way.
      if (this.hyperMessages === before) {
        const asked = Object.entries(body).map(([name, value]) => `${name} ${value}`).join(", ");
        this.ack.textContent = `Asked for ${asked}: it takes effect at the next batch…`;
      }
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      showErrors(this.form, err);
    } finally {
      this.sending = false;
      this.applyButton.disabled = !this.editable;
    }
  }
}
