// Reading the service's messages (status, batch, epoch, early_stop, callback, hyper,
// evaluation): one place that knows their fields, so the pages do not each guess.

/** Epochs counted from 1 for people; messages carry the loop's 0-based `epoch` index. */
export function epochNumber(message) {
  return Number.isFinite(message.epoch) ? message.epoch + 1 : null;
}

/** "2 / 10": epochs finished of the run's total (from the last epoch message). */
export function epochLabel(latest, run) {
  const done = latest ? epochNumber(latest) : null;
  const total = run && run.params ? run.params.epochs : undefined;
  if (done === null) return total ? `0 / ${total}` : "–";
  return total ? `${done} / ${total}` : String(done);
}

/** One statistic of an epoch message: split "train" or "valid", name "loss", "accuracy"... */
export function metricOf(message, split, name) {
  const stats = message && message[split];
  const value = stats ? stats[name] : undefined;
  return typeof value === "number" ? value : null;
}

/** The statistic names of an epoch message other than loss, in a stable order. */
export function metricNames(message) {
  const names = new Set();
  for (const split of ["train", "valid"]) {
    for (const key of Object.keys((message && message[split]) || {})) {
      if (key !== "loss") names.add(key);
    }
  }
  return [...names].sort();
}

/** The x of a batch message on the batch charts: `iter` counts training batches of the whole fit. */
export function batchX(message) {
  return Number.isFinite(message.iter) ? message.iter : null;
}

/** "epoch 2, iteration 130" for a stop reason or an early_stop message. */
export function whereLabel(info) {
  if (!info) return "";
  const parts = [];
  if (Number.isFinite(info.epoch)) parts.push(`epoch ${info.epoch + 1}`);
  if (Number.isFinite(info.iter)) parts.push(`iteration ${info.iter}`);
  return parts.join(", ");
}

/**
 * Who can stop a run, as `stop_reason.source` says (the server's StopSource): a person pressed
 * Stop, or the server stopped. Any other source is the name of the callback that stopped the
 * run (early_stopping, time_limit...).
 */
export const StopSource = Object.freeze({
  USER: "user",
  SHUTDOWN: "shutdown",
  LOST: "lost",
  PAUSE_TIMEOUT: "pause_timeout",
});

/** Whether a person asked for this stop (so the page need not say who stopped the run). */
export function stoppedByUser(reason) {
  return Boolean(reason) && reason.source === StopSource.USER;
}

/** Who stopped the run, as shown: "user", "shutdown" or the callback's name ("" if unknown). */
export function stopSourceLabel(reason) {
  return (reason && typeof reason === "object" && reason.source) || "";
}

/** A stop reason (object or string) as one sentence. */
export function stopReasonText(reason) {
  if (!reason) return "";
  if (typeof reason === "string") return reason;
  const where = whereLabel(reason);
  const source = stopSourceLabel(reason);
  const who = source ? `${source}: ` : "";
  return `${who}${reason.message || "stopped"}${where ? ` (at ${where})` : ""}`;
}

/** The hyperparameters a live run's optimizer takes, as `PATCH /hypers` and `hyper` name them. */
export const HYPER_NAMES = Object.freeze(["lr", "momentum", "weight_decay"]);

/** The learning rate a batch message, or an epoch message's batch curve, ends with (or null). */
export function lastLearningRate(message) {
  if (!message) return null;
  if (typeof message.lr === "number") return message.lr;
  const lrs = message.batches && message.batches.lr;
  const last = Array.isArray(lrs) ? lrs[lrs.length - 1] : undefined;
  return typeof last === "number" ? last : null;
}

/**
 * A `hyper` message as one sentence: "lr 0.05 from iteration 123". Values are shown as the
 * server sent them (the number the person typed), not rounded like statistics.
 */
export function hyperText(message) {
  const values = Object.entries((message && message.values) || {});
  const set = values.map(([name, value]) => `${name} ${value}`).join(", ");
  const from = Number.isFinite(message.iter) ? ` from iteration ${message.iter}` : "";
  const missing = (message.missing || []).length
    ? `${set ? "; " : ""}${message.missing.join(", ")} left alone: the optimizer has none`
    : "";
  return `${set}${set ? from : ""}${missing}`;
}

/** A `status` message's place in the loop ("epoch 2, iteration 130"): paused, and resumed. */
export function heldAt(message) {
  return message && Number.isFinite(message.iter) ? whereLabel(message) : "";
}

/** Where a run executes, as shown: "ray on node-2, pid 4242" ("–" before it begins). */
export function placementLabel(placement) {
  if (!placement || typeof placement !== "object") return "–";
  const where = [placement.host, placement.pid ? `pid ${placement.pid}` : ""].filter(Boolean);
  return `${placement.backend || "?"}${where.length ? ` on ${where.join(", ")}` : ""}`;
}
