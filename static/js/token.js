// The access token (the server's FITBOARD_TOKEN) the user entered: kept in this browser and
// sent with every HTTP call and every WebSocket. The one module that knows where it is
// stored and how it travels.

const TOKEN_KEY = "fitboard.token";
const WS_SUBPROTOCOL = "fitboard"; // the subprotocol the server accepts

/** The stored access token, or "" when none is stored. */
export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return ""; // storage can be disabled (private windows, strict policies)
  }
}

/** Store the access token sent with every request ("" forgets it). */
export function setToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else clearToken();
}

/** Forget the stored access token. */
export function clearToken() {
  localStorage.removeItem(TOKEN_KEY);
}

/** The headers that authenticate an HTTP call: {Authorization: "Bearer <token>"}, or {}. */
export function authHeaders() {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * The subprotocols to offer a WebSocket: browsers cannot set headers on one, so the token
 * travels as "bearer.<token>" beside "fitboard".
 */
export function socketProtocols() {
  const token = getToken();
  return token ? [WS_SUBPROTOCOL, `bearer.${token}`] : [WS_SUBPROTOCOL];
}
