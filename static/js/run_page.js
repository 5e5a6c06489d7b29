// The run page: history from the API, then the live stream, with no gap and no duplicate.
// The REST history says up to which seq it goes; the WebSocket resumes after that seq and
// again after every reconnect, and the charts drop any point at an x they already have.
import { api, ApiError, query } from "./api.js";
import { ArtifactsPanel } from "./artifacts_panel.js";
import { NotesPanel } from "./notes_panel.js";
import { initConnectionBanner } from "./connection.js";
import { FINISHED, formatSeconds, formatTime, setBadge } from "./dom.js";
import { ForkPanel } from "./fork_panel.js";
import { FrameQueue } from "./frame_queue.js";
import { HyperEditor } from "./hyper_editor.js";
import {
  epochLabel,
  placementLabel,
  stoppedByUser,
  stopSourceLabel,
  whereLabel,
} from "./messages.js";
import { RunCharts } from "./run_charts.js";
import { RunFacts } from "./run_facts.js";
import { RunControls } from "./run_controls.js";
import { CallbacksPanel, EventLog, renderConfig } from "./run_panels.js";
import { runSocketPath, runUrl } from "./urls.js";
import { MessageStream } from "./ws.js";

const EVENTS_PAGE = 10000; // the most GET /api/runs/{id}/events returns at once
const EXTENDABLE = new Set(["completed", "stopped", "early_stopped"]); // POST /extend

/** Every stored message of a run after `afterSeq`, oldest first, page by page. */
async function fetchEvents(runId, afterSeq = 0) {
  const all = [];
  let after = afterSeq;
  for (;;) {
    const params = query({ after_seq: after, limit: EVENTS_PAGE });
    const page = await api(`${runUrl(runId, "events")}${params}`);
    all.push(...page);
    if (page.length < EVENTS_PAGE) return all;
    after = page[page.length - 1].seq;
  }
}

class RunPage {
  constructor(root) {
    this.root = root;
    this.runId = root.dataset.runId;
    this.run = null;
    this.charts = new RunCharts(root);
    this.callbacks = new CallbacksPanel(root, this.runId);
    this.controls = new RunControls(root, this.runId);
    this.hypers = new HyperEditor(root, this.runId);
    this.log = new EventLog(root.querySelector("#event-log"), this.runId);
    this.artifacts = new ArtifactsPanel(root, this.runId);
    this.notes = new NotesPanel(root, this.runId);
    this.forks = new ForkPanel(root, this.runId);
    this.facts = new RunFacts(root);
    // The run's duration: the server's figure at load, then ticking while it runs (live
    // status messages stop and restart it; the history replay is already in the figure).
    this.clock = { base: 0, since: null };
    this.replaying = false;
    this.queue = new FrameQueue((messages) => this.apply(messages));
    this.stream = new MessageStream(runSocketPath(this.runId), {
      resumeSeq: true,
      onMessages: (messages) => this.queue.pushAll(messages),
      onState: (state) => this.showLive(state),
    });
    this.stopRequestedAt = null;
    this.liveState = "connecting"; // of the WebSocket, shown with the run's own state
    this.lastStatus = null; // of the last status message applied (history or live)
    this.restarted = false; // resumed: the next "running" restarts the run's clock
  }

  async start() {
    try {
      await this.load();
    } catch (err) {
      this.showLoadError(err);
    }
  }

  async load() {
    this.run = await api(runUrl(this.runId));
    this.clock = { base: this.run.duration || 0, since: this.run.status === "running" ? Date.now() / 1000 : null };
    this.notes.set(this.run);
    this.forks.setRun(this.run);
    this.forks.refresh();
    this.showRun();
    this.callbacks.set(this.run.callbacks);
    this.hypers.setRun(this.run);
    this.wireStop();
    this.wireContinue();
    this.artifacts.refresh();
    const specs = this.callbacks.load().catch((err) => this.callbacks.showError(err));
    // The saved messages are the whole history (every batch message too); the stream then
    // resumes after the last one's seq.
    const events = await fetchEvents(this.runId);
    this.replaying = true;
    this.apply(events);
    this.replaying = false;
    const lastSeq = events.reduce((max, m) => Math.max(max, m.seq || 0), 0);
    this.stream.markSeen(this.runId, lastSeq);
    this.root.dataset.historySeq = String(lastSeq);
    await specs;
    this.setStatus(this.run.status);
    this.stream.connect(); // also for a finished run: a resumed run goes on in the same stream
    setInterval(() => this.showTimes(), 1000);
  }

  /** Apply messages in seq order: charts, log, status, callbacks; then one redraw. */
  apply(messages) {
    for (const message of messages) {
      if (message.type === "batch") this.batch(message);
      else if (message.type === "epoch") this.epoch(message);
      else if (message.type === "status") this.statusMessage(message);
      else if (message.type === "callback") this.callbacks.apply(message);
      else if (message.type === "hyper") this.hyper(message);
      else if (message.type === "evaluation") this.controls.evaluated();
      else if (message.type === "system") this.charts.addSystem(message);
      else if (message.type === "fork") this.forks.apply(message);
    }
    this.log.add(messages);
    this.charts.draw();
    this.hypers.render(); // once per frame: the lr of every batch message would be too often
  }

  batch(message) {
    this.charts.addBatch(message);
    this.hypers.observe(message);
  }

  epoch(message) {
    this.charts.addEpoch(message);
    this.hypers.observe(message);
    this.artifacts.soon(); // a checkpoint callback may have written a file
    this.facts.observe(message);
    this.run.latest = message;
    this.root.querySelector("#run-epoch").textContent = epochLabel(message, this.run);
  }

  /** A `hyper` message: the editor acknowledges it and the configuration shows the value. */
  hyper(message) {
    this.hypers.applied(message);
    this.callbacks.acted(message); // set_hyperparameter names itself: it has done its one thing
    this.showConfig();
  }

  showConfig() {
    renderConfig(this.root.querySelector("#run-config"), this.run, this.hypers.changes);
  }

  /**
   * A `status` message carries all of the change (status, stop_reason, error), so it is
   * applied as it is, with no re-fetch of the run; a field it leaves out is now null.
   */
  statusMessage(message) {
    const at = new Date((message.time || Date.now() / 1000) * 1000).toISOString();
    if (FINISHED.has(this.lastStatus) && !FINISHED.has(message.status)) {
      // Resumed: like the server, forget the last finish and restart the clock when it runs.
      this.run.finished_at = null;
      this.restarted = true;
    }
    this.lastStatus = message.status;
    if (!this.replaying) this.tickClock(message);
    this.run.status = message.status;
    this.run.stop_reason = message.stop_reason ?? null;
    this.run.error = message.error ?? null;
    if (message.placement) {
      this.run.placement = message.placement;
      this.showPlacement();
    }
    if (message.status === "running" && (!this.run.started_at || this.restarted)) {
      this.run.started_at = at;
      this.restarted = false;
    }
    this.controls.statusMessage(message);
    this.setStatus(message.status);
    if (FINISHED.has(message.status)) this.finished(at); // after setStatus: it says how it ended
  }

  finished(at) {
    const receivedAt = performance.now();
    this.run.finished_at ??= at; // the run from the API (history replay) already has it
    const delay = this.stopRequestedAt === null ? null : (receivedAt - this.stopRequestedAt) / 1000;
    this.stopRequestedAt = null;
    this.showStopResult(delay);
    this.showConfig();
    this.artifacts.refresh();
  }

  setStatus(status) {
    setBadge(this.root.querySelector("#run-status"), status);
    const live = !FINISHED.has(status);
    const stop = this.root.querySelector("#stop-button");
    stop.hidden = !live;
    stop.disabled = !live || this.stopRequestedAt !== null;
    if (live) this.root.querySelector("#stop-result").hidden = this.stopRequestedAt === null;
    this.controls.setStatus(status, { stopping: this.stopRequestedAt !== null });
    this.hypers.setStatus(status, !live);
    this.callbacks.setLive(live);
    this.forks.setStatus(status);
    this.root.querySelector("#extend-form").hidden = !EXTENDABLE.has(status);
    this.showLive();
    this.showTimes();
    if (!live) this.showStopResult(null);
  }

  showRun() {
    const run = this.run;
    document.title = `${run.name || run.id} · fitboard`;
    this.root.querySelector("#run-name").textContent = run.name || run.id;
    this.root.querySelector("#run-recipe").textContent = run.recipe || "–";
    this.root.querySelector("#run-epoch").textContent = epochLabel(run.latest, run);
    this.showPlacement();
    this.showConfig();
    this.setStatus(run.status);
  }

  showPlacement() {
    const node = this.root.querySelector("#run-placement");
    node.textContent = placementLabel(this.run.placement);
    node.title = this.run.placement?.node ? `Ray node ${this.run.placement.node}` : "";
  }

  /** A live status message: a running stretch ends (paused, finished) or begins. */
  tickClock(message) {
    const at = message.time || Date.now() / 1000;
    if (this.clock.since !== null) this.clock.base += Math.max(0, at - this.clock.since);
    this.clock.since = message.status === "running" ? at : null;
  }

  showTimes() {
    const run = this.run;
    if (!run) return;
    this.root.querySelector("#run-started").textContent = formatTime(run.started_at);
    const { base, since } = this.clock;
    const seconds = base + (since === null ? 0 : Math.max(0, Date.now() / 1000 - since));
    this.root.querySelector("#run-duration").textContent =
      run.started_at || base > 0 ? formatSeconds(seconds) : "–";
    this.facts.render(run);
  }

  /** "Stopped at epoch 2, iteration 130, 0.21 s after the request." */
  showStopResult(delaySeconds) {
    const run = this.run;
    const node = this.root.querySelector("#stop-result");
    const reason = run.stop_reason;
    if (run.status === "failed" && run.error) {
      node.textContent = `Failed: ${run.error}`;
    } else if (reason && typeof reason === "object") {
      const where = whereLabel(reason);
      const after = delaySeconds === null ? "" : `, ${delaySeconds.toFixed(2)} s after the request`;
      const at = where ? `at ${where}` : "before training started";
      const why = reason.message ? ` ${reason.message}` : "";
      const source = stopSourceLabel(reason);
      const by = source && !stoppedByUser(reason) ? ` (${source})` : ""; // a person knows who
      node.textContent = `Stopped ${at}${after}.${why}${by}`;
    } else if (reason) {
      node.textContent = `Stopped: ${reason}`;
    } else if (delaySeconds !== null) {
      node.textContent = `The run ended (${run.status}) before the stop took effect.`;
    } else {
      return;
    }
    node.hidden = false;
  }

  wireStop() {
    const button = this.root.querySelector("#stop-button");
    const dialog = this.root.querySelector("#stop-dialog");
    button.addEventListener("click", () => dialog.showModal());
    dialog.addEventListener("close", () => {
      if (dialog.returnValue === "stop") this.requestStop();
      else button.focus();
    });
  }

  /** "Run again" opens the launch form prefilled; "Extend" trains a finished run on. */
  wireContinue() {
    this.root.querySelector("#run-again").href = `/?from=${encodeURIComponent(this.runId)}`;
    const form = this.root.querySelector("#extend-form");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = this.root.querySelector("#extend-result");
      const epochs = Number(form.querySelector("#extend-epochs").value);
      result.textContent = "";
      try {
        const run = await api(runUrl(this.runId, "extend"), { method: "POST", body: { epochs } });
        this.run.params = run.params; // the new total: "6 / 10"
        result.textContent = `Queued to epoch ${run.params.epochs}.`;
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        result.textContent = `Could not extend: ${err.fieldErrors[0]?.msg || err.message}`;
      }
    });
  }

  async requestStop() {
    const button = this.root.querySelector("#stop-button");
    const node = this.root.querySelector("#stop-result");
    button.disabled = true;
    this.stopRequestedAt = performance.now();
    this.controls.setStatus(this.run.status, { stopping: true });
    node.textContent = "Stop requested; the run stops at its next batch…";
    node.hidden = false;
    try {
      await api(runUrl(this.runId, "stop"), { method: "POST" });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.stopRequestedAt = null;
      node.textContent = `Could not stop the run: ${err.message}`;
      button.disabled = FINISHED.has(this.run.status);
      this.controls.setStatus(this.run.status);
    }
  }

  /** The stream's state; while it is open, also that the run itself holds (paused). */
  showLive(state = this.liveState) {
    this.liveState = state;
    const node = this.root.querySelector("#run-live");
    const status = this.run?.status;
    const paused = state === "open" && status === "paused";
    // The dot says whether the run trains, not only whether the socket is open: a finished
    // run's stream stays open (a resume goes on in it), but nothing is live.
    const training = state === "open" && (status === "running" || status === "paused");
    node.dataset.state = state;
    node.dataset.paused = String(paused);
    node.dataset.training = String(training);
    const labels = { open: "live", closed: "reconnecting…", connecting: "connecting…", ended: "offline" };
    if (paused) node.textContent = "live · paused";
    else if (state === "open" && !training) node.textContent = status === "queued" ? "waiting to start" : "not training";
    else node.textContent = labels[state] || state;
  }

  showLoadError(err) {
    const node = this.root.querySelector("#run-error");
    if (err instanceof ApiError && err.status === 404) {
      node.textContent = `There is no run with id ${this.runId}. It may have been deleted.`;
    } else {
      node.textContent = `Could not load the run: ${err.message}`;
    }
    node.hidden = false;
    setBadge(this.root.querySelector("#run-status"), "unknown");
    this.showLive("ended");
  }
}

initConnectionBanner();
new RunPage(document.getElementById("run-root")).start();
