// A WebSocket that reconnects by itself and never delivers the same message twice.
// For one run's stream it reconnects with after_seq, so the server replays what was missed.
import { api } from "./api.js";
import { reportConnection } from "./connection.js";
import { socketProtocols } from "./token.js";

const MAX_BACKOFF_MS = 5000;

function socketUrl(path, params) {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, String(value));
  return url.toString();
}

export class MessageStream {
  /**
   * path: "/ws/runs/<id>" or "/ws/runs".
   * onMessages(list): new messages in seq order, duplicates removed.
   * onState("connecting" | "open" | "closed" | "ended"): for a "live" indicator.
   * resumeSeq: true for one run's stream (reconnect with after_seq=<last seen>).
   */
  constructor(path, { onMessages, onState = () => {}, resumeSeq = false, afterSeq = 0 }) {
    this.path = path;
    this.onMessages = onMessages;
    this.onState = onState;
    this.resumeSeq = resumeSeq;
    this.lastSeq = new Map(); // run_id -> highest seq delivered
    this.singleRunSeq = afterSeq; // for resumeSeq streams: the after_seq of the next connect
    this.backoff = 250;
    this.socket = null;
    this.closedOnPurpose = false;
  }

  /** Highest seq delivered so far for a resumable stream. */
  get seq() {
    return this.singleRunSeq;
  }

  /** Mark messages up to `seq` of `runId` as seen (e.g. they came from the REST history). */
  markSeen(runId, seq) {
    if (seq > (this.lastSeq.get(runId) ?? 0)) this.lastSeq.set(runId, seq);
    if (this.resumeSeq && seq > this.singleRunSeq) this.singleRunSeq = seq;
  }

  connect() {
    this.closedOnPurpose = false;
    const params = this.resumeSeq ? { after_seq: this.singleRunSeq } : {};
    this.onState("connecting");
    const socket = new WebSocket(socketUrl(this.path, params), socketProtocols());
    this.socket = socket;
    this.opened = false;
    socket.addEventListener("open", () => {
      this.opened = true;
      this.backoff = 250;
      reportConnection("ok"); // reachable, and the token (if any) was accepted
      this.onState("open");
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", () => this.closed(socket));
  }

  receive(data) {
    let parsed;
    try {
      parsed = JSON.parse(data);
    } catch {
      return; // not ours to interpret; a keep-alive or a proxy's text
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    const fresh = [];
    for (const message of list) {
      if (!message || typeof message !== "object") continue;
      const runId = message.run_id;
      const seq = Number(message.seq);
      if (runId !== undefined && Number.isFinite(seq)) {
        if (seq <= (this.lastSeq.get(runId) ?? 0)) continue; // already delivered
        this.lastSeq.set(runId, seq);
        if (this.resumeSeq && seq > this.singleRunSeq) this.singleRunSeq = seq;
      }
      fresh.push(message);
    }
    if (fresh.length) this.onMessages(fresh);
  }

  closed(socket) {
    if (socket !== this.socket) return;
    this.socket = null;
    if (this.closedOnPurpose) return;
    this.onState("closed");
    // A refused handshake (no token, unknown run, server down) looks the same to a browser
    // (code 1006): one HTTP call tells which, and the banner says it.
    if (!this.opened) api("/api/health").catch(() => {});
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Close for good (page leaving, run finished and fully received). */
  close() {
    this.closedOnPurpose = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }
}
