// The run page's speed facts, from its epoch messages: seconds per epoch, samples per second
// and the time left (ETA), as W&B and Aim show them next to the charts.
import { formatSeconds } from "./dom.js";
import { epochNumber } from "./messages.js";

const WINDOW = 5; // epochs the rates are averaged over: recent enough to follow a change

/** Iterations done at the end of an epoch message (the last of its batch curve), or null. */
function itersAtEnd(message) {
  const iters = message.batches && message.batches.iter;
  return Array.isArray(iters) && iters.length ? iters[iters.length - 1] : null;
}

export class RunFacts {
  constructor(root) {
    this.epochTime = root.querySelector("#run-epoch-time");
    this.throughput = root.querySelector("#run-throughput");
    this.eta = root.querySelector("#run-eta");
    this.ends = []; // {epoch, elapsed, iters} of the last epochs
  }

  /** An epoch message. `elapsed` restarts with a resumed fit: the window restarts too. */
  observe(message) {
    const end = { epoch: epochNumber(message), elapsed: message.elapsed, iters: itersAtEnd(message) };
    if (end.epoch === null || !Number.isFinite(end.elapsed)) return;
    const last = this.ends[this.ends.length - 1];
    if (last && end.elapsed < last.elapsed) this.ends = [];
    this.ends.push(end);
    if (this.ends.length > WINDOW + 1) this.ends.shift();
  }

  /** The rates over the window: {secondsPerEpoch, samplesPerSecond} (null when unknown). */
  rates(batchSize) {
    const first = this.ends[0];
    const last = this.ends[this.ends.length - 1];
    if (!first) return { secondsPerEpoch: null, samplesPerSecond: null };
    const epochs = last.epoch - first.epoch;
    const seconds = last.elapsed - first.elapsed;
    // One epoch alone: it began with the fit (elapsed counts from the fit's start).
    const secondsPerEpoch = epochs > 0 ? seconds / epochs : this.ends.length === 1 ? last.elapsed : null;
    let samplesPerSecond = null;
    if (epochs > 0 && seconds > 0 && Number.isFinite(batchSize) && last.iters !== null && first.iters !== null) {
      samplesPerSecond = ((last.iters - first.iters) * batchSize) / seconds;
    }
    return { secondsPerEpoch, samplesPerSecond };
  }

  render(run) {
    const { secondsPerEpoch, samplesPerSecond } = this.rates(run.params && run.params.bs);
    this.epochTime.textContent = secondsPerEpoch === null ? "–" : formatSeconds(secondsPerEpoch);
    this.throughput.textContent =
      samplesPerSecond === null ? "–" : `${Math.round(samplesPerSecond).toLocaleString("en")}/s`;
    const total = run.params && run.params.epochs;
    const done = this.ends.length ? this.ends[this.ends.length - 1].epoch : 0;
    const training = run.status === "running" || run.status === "paused";
    if (!training) this.eta.textContent = "–";
    else if (secondsPerEpoch === null || !Number.isFinite(total)) this.eta.textContent = "…";
    else this.eta.textContent = formatSeconds(Math.max(0, total - done) * secondsPerEpoch);
  }
}
