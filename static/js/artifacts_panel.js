// The run page's downloads: its checkpoints (last.pt, best.pt) and its metrics as CSV / JSON.
import { api, ApiError, download } from "./api.js";
import { el, replaceChildren } from "./dom.js";
import { runUrl } from "./urls.js";

const REFRESH_MS = 2000; // at most one listing every 2 s while epochs arrive

function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export class ArtifactsPanel {
  constructor(root, runId) {
    this.runId = runId;
    this.list = root.querySelector("#artifact-list");
    this.note = root.querySelector("#artifact-error");
    this.timer = null;
  }

  /** List what the run has now; `soon()` does it at most every REFRESH_MS. */
  async refresh() {
    this.timer = null;
    try {
      this.render(await api(runUrl(this.runId, "artifacts")));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.showError(`Could not list the downloads: ${err.message}`);
    }
  }

  soon() {
    this.timer ??= setTimeout(() => this.refresh(), REFRESH_MS);
  }

  render({ checkpoints, epochs }) {
    const items = checkpoints.map((c) =>
      this.item(
        `${c.kind}.pt`,
        `${runUrl(this.runId, "checkpoint")}?kind=${c.kind}`,
        `${this.runId}-${c.kind}.pt`,
        `checkpoint, ${sizeText(c.bytes)}`,
      ),
    );
    if (!checkpoints.length) {
      items.push(el("li", { class: "help" }, "No checkpoint yet: attach “checkpoint” to save one."));
    }
    const rows = `${epochs} ${epochs === 1 ? "row" : "rows"}`;
    for (const format of ["csv", "json"]) {
      const name = `metrics.${format}`;
      items.push(this.item(name, runUrl(this.runId, name), `${this.runId}-${name}`, rows));
    }
    replaceChildren(this.list, items);
  }

  item(label, href, filename, detail) {
    const link = el("a", { href, download: filename, dataset: { artifact: label } }, label);
    link.addEventListener("click", (event) => {
      event.preventDefault(); // through fetch, so a token goes with it
      this.note.hidden = true;
      download(href, filename).catch((err) => this.showError(`Download failed: ${err.message}`));
    });
    return el("li", {}, link, el("span", { class: "artifact-detail" }, ` ${detail}`));
  }

  showError(text) {
    this.note.textContent = text;
    this.note.hidden = false;
  }
}
