// The launch form's LR finder: POST /api/lr-find with the form's recipe and parameters, wait
// for the sweep (a short run of its own), plot loss against lr on a log axis with the
// suggested lr marked, and put that lr into the form with one click.
import { api, ApiError } from "./api.js";
import { formatNumber } from "./dom.js";
import { clearErrors, showErrors } from "./schema_form.js";

const POLL_MS = 300; // GET /lr-find answers 409 while the sweep runs
const RULES = {
  steepest: "where the smoothed loss falls fastest, before its minimum",
  "minimum/10": "a tenth of the lr at the loss's minimum (the curve never descends)",
};

export class LRFinder {
  /** form: the launch form; launchForm: its LaunchForm (for the request body). */
  constructor(form, launchForm) {
    this.form = form;
    this.launchForm = launchForm;
    this.button = form.querySelector("#lr-find-button");
    this.status = form.querySelector("#lr-find-status");
    this.chartBox = form.querySelector("#lr-find-chart");
    this.use = form.querySelector("#lr-find-use");
    this.plot = null;
    this.suggested = null;
  }

  attach() {
    this.button.addEventListener("click", () => this.find());
    this.use.addEventListener("click", () => this.fill());
  }

  async find() {
    clearErrors(this.form);
    this.button.disabled = true;
    this.use.hidden = true;
    this.status.textContent = "Sweeping the learning rate from 1e-7 up…";
    const { recipe, params } = this.launchForm.body();
    try {
      const run = await api("/api/lr-find", { method: "POST", body: { recipe, params } });
      this.show(await this.result(run.id));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      this.status.textContent = "";
      showErrors(this.form, err); // a bad parameter shows at its field, as for Start
    } finally {
      this.button.disabled = false;
    }
  }

  async result(runId) {
    for (;;) {
      try {
        return await api(`/api/runs/${encodeURIComponent(runId)}/lr-find`);
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 409) throw err;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    }
  }

  show(result) {
    const { lr: lrs, loss: losses, suggestion } = result;
    this.suggested = suggestion.lr;
    const at = nearestIndex(lrs, suggestion.lr);
    const marks = losses.map((loss, i) => (i === at ? loss : null));
    this.draw([lrs, losses, marks]);
    this.chartBox.dataset.points = String(lrs.length);
    this.status.textContent =
      `Suggested lr ${formatNumber(suggestion.lr)}: ${RULES[suggestion.rule] || suggestion.rule}` +
      ` (${lrs.length} batches).`;
    this.use.textContent = `Use lr = ${formatNumber(suggestion.lr)}`;
    this.use.hidden = false;
  }

  draw(data) {
    this.chartBox.hidden = false;
    if (this.plot) {
      this.plot.setData(data);
      return;
    }
    const opts = {
      width: Math.max(this.chartBox.clientWidth, 240),
      height: 200,
      scales: {
        x: { time: false, distr: 3 }, // log10 lr
        // Up to a little above where the sweep started: the diverged tail would flatten it.
        y: { range: (u, min, max) => [min * 0.95, Math.min(max, yCeiling(data[1]))] },
      },
      axes: [
        { label: "learning rate (log)", values: (u, splits) => splits.map(powerOfTen) },
        { label: "loss", size: 56 },
      ],
      series: [
        { label: "lr", value: (u, v) => formatNumber(v) },
        { label: "loss", stroke: "#1d4ed8", width: 2, value: (u, v) => formatNumber(v) },
        {
          label: "suggested",
          stroke: "#c2410c",
          width: 0,
          points: { show: true, size: 10, fill: "#c2410c" },
          value: (u, v) => formatNumber(v),
        },
      ],
    };
    this.plot = new globalThis.uPlot(opts, data, this.chartBox);
  }

  fill() {
    const input = this.form.querySelector('[name="params.lr"]');
    if (!input || this.suggested === null) return;
    input.value = String(Number(this.suggested.toPrecision(3)));
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
  }
}

function nearestIndex(values, target) {
  let best = 0;
  values.forEach((value, i) => {
    if (Math.abs(Math.log(value / target)) < Math.abs(Math.log(values[best] / target))) best = i;
  });
  return best;
}

/** The top of the loss axis: 1.5 times the first finite loss (the untrained model's). */
function yCeiling(losses) {
  const first = losses.find((v) => v !== null && Number.isFinite(v));
  return first === undefined ? Infinity : first * 1.5;
}

/** A log axis tick as "1e-4"; every other decade only, so a narrow form stays legible. */
function powerOfTen(value) {
  if (value === null) return "";
  const exponent = Math.round(Math.log10(value));
  return exponent % 2 === 0 ? `1e${exponent}` : "";
}
