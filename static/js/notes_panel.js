// The run page's notes: tags to find the run by (the runs list searches and filters them) and
// a free-text note, saved with PATCH /api/runs/{id} in any state of the run.
import { api, ApiError } from "./api.js";
import { runUrl } from "./urls.js";

/** "baseline, lr sweep" -> ["baseline", "lr", "sweep"]: commas or spaces separate tags. */
export function parseTags(text) {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))];
}

export class NotesPanel {
  constructor(root, runId) {
    this.runId = runId;
    this.form = root.querySelector("#notes-form");
    this.tags = root.querySelector("#run-tags");
    this.note = root.querySelector("#run-note");
    this.ack = root.querySelector("#notes-ack");
    this.error = this.form.querySelector("[data-form-error]");
    this.form.addEventListener("submit", (event) => this.save(event));
  }

  set(run) {
    this.tags.value = (run.tags || []).join(", ");
    this.note.value = run.note || "";
  }

  async save(event) {
    event.preventDefault();
    this.error.hidden = true;
    this.ack.textContent = "Saving…";
    const body = { tags: parseTags(this.tags.value), note: this.note.value };
    try {
      const run = await api(runUrl(this.runId), { method: "PATCH", body });
      this.set(run);
      this.ack.textContent = "Saved.";
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.ack.textContent = "";
      const field = err.fieldErrors[0];
      const where = field ? ` (${field.loc.slice(1).join(" ")})` : "";
      this.error.textContent = field
        ? `Not saved${where}: ${field.msg}. Tags are words of letters, digits, _ . : - (at most 40).`
        : `Not saved: ${err.message}`;
      this.error.hidden = false;
    }
  }
}
