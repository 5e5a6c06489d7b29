// Small DOM helpers shared by the pages: element building, formatting, status badges.

/**
 * el("a", {href: "/x", class: "link"}, "text", child): create an element. Attributes that are
 * properties (value, checked, hidden, ...) are set as properties; text is never parsed as HTML.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const STATUS_LABELS = {
  queued: "queued",
  running: "running",
  paused: "paused",
  completed: "completed",
  stopped: "stopped",
  early_stopped: "early stopped",
  pruned: "pruned",
  failed: "failed",
  interrupted: "interrupted",
};

export const FINISHED = new Set([
  "completed", "stopped", "early_stopped", "pruned", "failed", "interrupted",
]);

/** Set a status badge's text and colour class (the text is what a screen reader reads). */
export function setBadge(node, status) {
  node.className = `badge badge-${status || "unknown"}`;
  node.textContent = STATUS_LABELS[status] || status || "unknown";
  node.dataset.status = status || "";
}

export function badge(status) {
  const node = el("span");
  setBadge(node, status);
  return node;
}

/** A number for a table cell: 4 significant decimals below 1, "–" when missing. */
export function formatNumber(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return value.toExponential(2);
  return value.toFixed(abs < 1 ? 4 : 3);
}

/** "2024-05-01 12:03" in the viewer's zone, from an ISO timestamp. */
export function formatTime(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const sameYear = date.getFullYear() === new Date().getFullYear();
  return date.toLocaleString(undefined, {
    year: sameYear ? undefined : "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** "4.2 s", "38 s", "1 min 05 s", "2 h 03 min". */
export function formatSeconds(value) {
  const exact = Math.max(0, value);
  if (exact < 60) return `${exact.toFixed(exact < 10 ? 1 : 0)} s`;
  const seconds = Math.round(exact);
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** Replace a node's children. */
export function replaceChildren(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}
