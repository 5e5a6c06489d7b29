// The run page's lineage: the run it was forked from and where, the runs forked from it,
// and a form that forks it (POST /api/runs/{id}/fork) with another lr or more epochs.
import { api, ApiError } from "./api.js";
import { el, replaceChildren } from "./dom.js";
import { runPageUrl, runUrl } from "./urls.js";

/** "epoch 3, after 12 of its batches (iteration 1,234)": where a fork started, 1-based. */
export function forkPointLabel(point) {
  if (!point) return "";
  const epoch = `epoch ${point.epoch + 1}`;
  const batches = point.batch > 0 ? `, after ${point.batch} of its batches` : ", at its start";
  return `${epoch}${batches} (iteration ${Number(point.iter).toLocaleString("en")})`;
}

/** The compare page with these runs. */
export function compareUrl(...ids) {
  return `/compare?ids=${ids.map(encodeURIComponent).join(",")}`;
}

export class ForkPanel {
  constructor(root, runId) {
    this.runId = runId;
    this.parent = root.querySelector("#fork-parent");
    this.list = root.querySelector("#fork-list");
    this.form = root.querySelector("#fork-form");
    this.result = root.querySelector("#fork-result");
    this.error = this.form.querySelector("[data-form-error]");
    this.closed = root.querySelector("#fork-closed");
    this.forks = new Map(); // id -> run, in fork order
    this.form.addEventListener("submit", (event) => this.submit(event));
  }

  /** The run as the API gave it: its parent, and the form's defaults. */
  setRun(run) {
    this.run = run;
    if (run.parent_id) {
      replaceChildren(
        this.parent,
        "Forked from ",
        el("a", { href: runPageUrl(run.parent_id), id: "fork-parent-link" }, run.parent_id),
        ` at ${forkPointLabel(run.fork_point)}`,
        hypersText(run.fork_point?.hypers),
        " · ",
        el("a", { href: compareUrl(run.parent_id, run.id), id: "fork-compare" }, "compare with it"),
      );
      this.parent.hidden = false;
    }
    this.field("lr").value = run.params?.lr ?? "";
    this.field("lr").closest(".field").hidden = run.params?.lr === undefined;
    this.field("epochs").value = run.params?.epochs ?? "";
  }

  /** Queued runs have no state to fork yet, external ones train elsewhere. */
  setStatus(status) {
    const forkable = status !== "queued" && !this.run?.external;
    this.form.hidden = !forkable;
    this.closed.hidden = forkable;
  }

  async refresh() {
    try {
      for (const run of await api(runUrl(this.runId, "forks"))) this.forks.set(run.id, run);
      this.render();
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
    }
  }

  /** A `fork` message: in the parent's log, a new child (fetched for its name). */
  apply(message) {
    if (message.parent_id === this.runId && message.point && !this.forks.has(message.child_id)) {
      this.forks.set(message.child_id, { id: message.child_id, fork_point: message.point });
      this.render();
      this.soon();
    }
  }

  soon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), 300);
  }

  render() {
    const items = [...this.forks.values()].map((run) =>
      el(
        "li",
        { dataset: { runId: run.id } },
        el("a", { href: runPageUrl(run.id) }, run.name || run.id),
        ` from ${forkPointLabel(run.fork_point)}`,
        hypersText(run.fork_point?.hypers),
        " · ",
        el("a", { href: compareUrl(this.runId, run.id) }, "compare"),
      ),
    );
    replaceChildren(this.list, ...items);
    this.list.hidden = items.length === 0;
  }

  field(name) {
    return this.form.querySelector(`[name="${name}"]`);
  }

  async submit(event) {
    event.preventDefault();
    this.error.hidden = true;
    for (const node of this.form.querySelectorAll(".field-error")) node.hidden = true;
    const params = {};
    for (const name of ["lr", "epochs"]) {
      const input = this.field(name);
      const value = input.value.trim();
      if (!input.closest(".field").hidden && value !== "" && Number(value) !== this.run.params?.[name]) {
        params[name] = Number(value);
      }
    }
    const body = { params };
    const name = this.field("name").value.trim();
    if (name) body.name = name;
    this.result.textContent = "Forking at the next batch…";
    try {
      const child = await api(runUrl(this.runId, "fork"), { method: "POST", body });
      this.forks.set(child.id, child);
      this.render();
      replaceChildren(
        this.result,
        "Forked: ",
        el("a", { href: runPageUrl(child.id), id: "fork-child-link" }, child.name),
        ` from ${forkPointLabel(child.fork_point)} · `,
        el("a", { href: compareUrl(this.runId, child.id), id: "fork-child-compare" }, "compare"),
      );
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.result.textContent = "";
      this.showError(err);
    }
  }

  /** A 422 at `params.lr` shows at the lr field; anything else (a 409) above the button. */
  showError(err) {
    const [first] = err.fieldErrors;
    const path = first?.loc.slice(1).join(".");
    const field = path && this.form.querySelector(`.field[data-path="${path}"] .field-error`);
    if (field) {
      field.textContent = first.msg;
      field.hidden = false;
      return;
    }
    this.error.textContent = `Not forked: ${first ? `${path}: ${first.msg}` : err.message}`;
    this.error.hidden = false;
  }
}

function hypersText(hypers) {
  const entries = Object.entries(hypers || {});
  return entries.length ? `, with ${entries.map(([k, v]) => `${k} ${v}`).join(", ")}` : "";
}
