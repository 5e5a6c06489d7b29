// The paths of a run's resources, each part escaped once here (run and callback ids come
// from the server and the page URL, and must never change the path's shape).

function escaped(parts) {
  return parts.map((part) => encodeURIComponent(String(part))).join("/");
}

/** runUrl(id) is "/api/runs/<id>"; runUrl(id, "callbacks", cbId) "/api/runs/<id>/callbacks/<cbId>". */
export function runUrl(id, ...rest) {
  return `/api/runs/${escaped([id, ...rest])}`;
}

/** The WebSocket path of one run's live messages. */
export function runSocketPath(id) {
  return `/ws/runs/${escaped([id])}`;
}

/** The run's page in the dashboard. */
export function runPageUrl(id) {
  return `/runs/${escaped([id])}`;
}

/** sweepUrl(id) is "/api/sweeps/<id>"; sweepUrl(id, "stop") "/api/sweeps/<id>/stop". */
export function sweepUrl(id, ...rest) {
  return `/api/sweeps/${escaped([id, ...rest])}`;
}

/** The sweep's page in the dashboard. */
export function sweepPageUrl(id) {
  return `/sweeps/${escaped([id])}`;
}
