// The banner that says when the server is unreachable or wants an access token.
// Every HTTP call and WebSocket reports here; the banner shows the worst current state.
import { getToken, setToken } from "./token.js";

const sources = new Map(); // source name -> "ok" | "unreachable" | "token"

function banner() {
  return document.getElementById("connection-banner");
}

function worstState() {
  const states = [...sources.values()];
  if (states.includes("token")) return "token";
  if (states.includes("unreachable")) return "unreachable";
  return "ok";
}

function render() {
  const el = banner();
  if (!el) return;
  const state = worstState();
  el.dataset.state = state;
  const message = el.querySelector("[data-banner-message]");
  const tokenForm = el.querySelector("form");
  if (state === "ok" && !el.dataset.tokenRequested) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  if (state === "unreachable") {
    message.textContent =
      "Cannot reach the fitboard server. Retrying; live updates resume when it is back.";
    tokenForm.hidden = true;
  } else {
    message.textContent =
      state === "token"
        ? "This server needs an access token. Enter the FITBOARD_TOKEN value to continue."
        : "Enter the access token for this server (stored in this browser only).";
    tokenForm.hidden = false;
  }
}

/** Record the state of one connection (`source` names it: "http", "ws:/ws/runs", ...). */
export function reportConnection(state, source = "http") {
  const previous = sources.get(source);
  sources.set(source, state);
  if (previous !== state) render();
}

function saveToken(event) {
  event.preventDefault();
  const input = event.target.querySelector("input");
  setToken(input.value.trim()); // an empty field forgets the token
  window.location.reload(); // every open request and socket restarts with the new token
}

function openTokenForm() {
  const el = banner();
  el.dataset.tokenRequested = "1";
  render();
  const input = el.querySelector("input");
  input.value = getToken();
  input.focus();
}

function closeTokenForm() {
  const el = banner();
  delete el.dataset.tokenRequested;
  render();
  document.getElementById("token-button")?.focus();
}

/** Wire the banner's token form and the header's token button (once per page). */
export function initConnectionBanner() {
  const el = banner();
  if (!el) return;
  el.querySelector("form").addEventListener("submit", saveToken);
  el.querySelector("[data-banner-cancel]")?.addEventListener("click", closeTokenForm);
  document.getElementById("token-button")?.addEventListener("click", openTokenForm);
  render();
}
