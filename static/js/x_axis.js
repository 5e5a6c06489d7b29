// The run page's x axis: iteration, epoch or wall clock, for every chart at once. Each chart
// keeps its points at its own x (training batches done, or the epoch number); RunClock turns
// those into the chosen unit from what the messages say: each epoch message's last batch
// and its `time`, each batch and system message's iter and `time`.
import { epochNumber } from "./messages.js";

export const X_AXES = Object.freeze({
  iteration: "iteration",
  epoch: "epoch",
  time: "wall clock (s)",
});

/** Linear interpolation of y at x over points sorted by x; extrapolates past the ends. */
export function interpolate(xs, ys, x) {
  const n = xs.length;
  if (n === 0) return null;
  if (n === 1) return ys[0];
  // The segment [lo, hi] holding x (the first or last one beyond the ends), by bisection.
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid;
    else hi = mid;
  }
  const span = xs[hi] - xs[lo];
  if (span <= 0) return ys[hi];
  return ys[lo] + ((x - xs[lo]) * (ys[hi] - ys[lo])) / span;
}

/** Insert (x, y) into sorted xs/ys, replacing the y of an x already there. */
function insertSorted(xs, ys, x, y) {
  let i = xs.length;
  while (i > 0 && xs[i - 1] > x) i--;
  if (i > 0 && xs[i - 1] === x) {
    ys[i - 1] = y;
    return;
  }
  xs.splice(i, 0, x);
  ys.splice(i, 0, y);
}

export class RunClock {
  constructor() {
    this.epochEnds = { iters: [0], epochs: [0] }; // iter at the end of epoch n (from 1)
    this.times = { iters: [], seconds: [] }; // when the run was at an iter (Unix seconds)
    this.epochTimes = new Map(); // epoch number -> Unix seconds of its message
    this.start = null; // Unix seconds: the first time seen, the origin of the wall clock
    this.lastIter = 0;
  }

  /** An epoch message: where its epoch ended, in iterations and in time. */
  addEpoch(message) {
    const n = epochNumber(message);
    const iters = message.batches && message.batches.iter;
    const end = Array.isArray(iters) && iters.length ? iters[iters.length - 1] : null;
    if (n !== null && Number.isFinite(end)) insertSorted(this.epochEnds.iters, this.epochEnds.epochs, end, n);
    if (n !== null && Number.isFinite(message.time)) this.epochTimes.set(n, message.time);
    if (Number.isFinite(end)) this.addTime(end, message.time);
  }

  /** A batch or system message: the run was at `iter` at `time`. */
  addSample(message) {
    if (Number.isFinite(message.iter)) this.addTime(message.iter, message.time);
  }

  addTime(iter, time) {
    if (!Number.isFinite(iter)) return;
    this.lastIter = Math.max(this.lastIter, iter);
    if (!Number.isFinite(time)) return;
    if (this.start === null || time < this.start) this.start = time;
    insertSorted(this.times.iters, this.times.seconds, iter, time);
  }

  /** The x of training-batch count `iter` in `axis` ("iteration", "epoch", "time"). */
  fromIter(iter, axis) {
    if (axis === "epoch") {
      const { iters, epochs } = this.epochEnds;
      if (iters.length > 1) return interpolate(iters, epochs, iter);
      // No epoch has ended: the share of the first epoch seen so far.
      return this.lastIter > 0 ? iter / this.lastIter : 0;
    }
    if (axis === "time") {
      const t = interpolate(this.times.iters, this.times.seconds, iter);
      return t === null || this.start === null ? null : t - this.start;
    }
    return iter;
  }

  /** The x of epoch number `n` (from 1, at its end) in `axis`. */
  fromEpoch(n, axis) {
    if (axis === "iteration") {
      const { iters, epochs } = this.epochEnds;
      const i = epochs.indexOf(n);
      return i > 0 ? iters[i] : null;
    }
    if (axis === "time") {
      const t = this.epochTimes.get(n);
      return t === undefined || this.start === null ? null : t - this.start;
    }
    return n;
  }
}
