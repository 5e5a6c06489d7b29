// The run page's Pause, Resume and Evaluate now buttons. Each only asks the server; what
// happened arrives as a message (status `paused`/`running`, `evaluation`), for this page's
// own requests as for anyone else's, and the buttons follow the status those messages set.
import { api, ApiError } from "./api.js";
import { heldAt } from "./messages.js";
import { runUrl } from "./urls.js";

export class RunControls {
  constructor(root, runId) {
    this.runId = runId;
    this.pauseButton = root.querySelector("#pause-button");
    this.resumeButton = root.querySelector("#resume-button");
    this.evaluateButton = root.querySelector("#evaluate-button");
    this.heldNote = root.querySelector("#run-held");
    this.result = root.querySelector("#control-result");
    this.status = null;
    this.heldWhere = ""; // "epoch 2, iteration 130" of the last `paused` message
    this.pending = new Set(); // "pause", "resume", "evaluate": asked, answer not seen yet
    this.pauseButton.addEventListener("click", () => this.request("pause"));
    this.resumeButton.addEventListener("click", () => this.request("resume"));
    this.evaluateButton.addEventListener("click", () => this.request("evaluate"));
  }

  /** A `status` message: a pause says where the loop holds. */
  statusMessage(message) {
    if (message.status === "paused") this.heldWhere = heldAt(message);
    // The status changed: a pause or resume asked for has been answered (or overtaken).
    this.pending.delete("pause");
    this.pending.delete("resume");
  }

  /** An `evaluation` message: the evaluation asked for has run (its stats are in the log). */
  evaluated() {
    this.pending.delete("evaluate");
    this.result.hidden = true;
    this.show();
  }

  /** `stopping`: a stop is on its way, so nothing else is offered meanwhile. */
  setStatus(status, { stopping = false } = {}) {
    this.status = status;
    this.stopping = stopping;
    this.show();
  }

  show() {
    const status = this.status;
    const running = status === "running";
    const paused = status === "paused";
    this.pauseButton.hidden = !running;
    this.pauseButton.disabled = this.stopping || this.pending.has("pause");
    // One Resume for both: a paused run goes on in memory, an interrupted one from its
    // checkpoint (the server's one endpoint tells them apart).
    this.resumeButton.hidden = !paused && status !== "interrupted";
    this.resumeButton.textContent = paused ? "Resume" : "Resume from its checkpoint";
    this.resumeButton.disabled = this.stopping || this.pending.has("resume");
    this.evaluateButton.hidden = !running && !paused && status !== "queued";
    this.evaluateButton.disabled = !running || this.stopping || this.pending.has("evaluate");
    this.heldNote.hidden = !paused;
    if (paused) {
      const at = this.heldWhere ? ` at ${this.heldWhere}` : "";
      this.heldNote.textContent =
        `Paused${at}: the run holds there and keeps its worker until you resume or stop it.`;
    }
  }

  /** POST /api/runs/{id}/<action>; the message that follows tells the rest. */
  async request(action) {
    this.pending.add(action);
    this.result.hidden = true;
    this.show();
    try {
      await api(runUrl(this.runId, action), { method: "POST" });
      if (action === "evaluate" && this.pending.has(action)) {
        this.say("Evaluation asked for: it runs at the next batch and its stats join the event log.");
      }
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.pending.delete(action);
      this.say(`Could not ${action} the run: ${err.message}`);
      this.show();
    }
  }

  say(text) {
    this.result.textContent = text;
    this.result.hidden = false;
  }
}
