// HTTP client for the fitboard API: one place that adds the token and turns failures into ApiError.
import { reportConnection } from "./connection.js";
import { authHeaders } from "./token.js";

/** An HTTP error from the API: `status` 0 means the server could not be reached. */
export class ApiError extends Error {
  constructor(status, body, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }

  /** FastAPI-style validation errors: [{loc: [...], msg}] (empty for other errors). */
  get fieldErrors() {
    const detail = this.body && this.body.detail;
    return Array.isArray(detail) ? detail.filter((d) => d && Array.isArray(d.loc)) : [];
  }
}

function messageOf(body, response) {
  const detail = body && (body.detail ?? body.message ?? body.error);
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail) && detail.length) {
    return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  }
  if (detail && typeof detail === "object" && typeof detail.message === "string") {
    return detail.message;
  }
  return `${response.status} ${response.statusText || "error"}`;
}

/**
 * Call the API and return the decoded JSON body (null for 204).
 * Throws ApiError for HTTP errors and for an unreachable server.
 */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json", ...authHeaders() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    reportConnection("unreachable");
    throw new ApiError(0, null, "Cannot reach the fitboard server.");
  }
  if (response.status === 401) {
    reportConnection("token");
  } else {
    reportConnection("ok");
  }
  const text = response.status === 204 ? "" : await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text.slice(0, 300) };
    }
  }
  if (!response.ok) throw new ApiError(response.status, data, messageOf(data, response));
  return data;
}

/** Build a query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * Download `path` as a file named `filename`. Through fetch, not a plain link, so that the
 * token goes with it (a link cannot carry the Authorization header). Throws ApiError.
 */
export async function download(path, filename) {
  let response;
  try {
    response = await fetch(path, { headers: authHeaders() });
  } catch {
    reportConnection("unreachable");
    throw new ApiError(0, null, "Cannot reach the fitboard server.");
  }
  if (!response.ok) {
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    throw new ApiError(response.status, data, messageOf(data, response));
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000); // the browser has it by then
}

/** PUT a file's bytes as the body (e.g. a CSV to /api/datasets/<name>); the decoded JSON. */
export async function upload(path, file, type = "text/csv") {
  let response;
  try {
    response = await fetch(path, {
      method: "PUT",
      headers: { Accept: "application/json", "Content-Type": type, ...authHeaders() },
      body: file,
    });
  } catch {
    reportConnection("unreachable");
    throw new ApiError(0, null, "Cannot reach the fitboard server.");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data, messageOf(data, response));
  return data;
}
