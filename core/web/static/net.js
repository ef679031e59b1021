// Calls to the hub from the pages: the session's CSRF token on every unsafe request, JSON in
// and out, and one silent refresh of the session when its access token has run out.

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** The session's CSRF token: the page's <meta name="csrf-token">, else the cookie. */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) { return meta.content; }
  const found = document.cookie.split("; ").find((part) => part.startsWith("medianest_csrf="));
  return found ? decodeURIComponent(found.slice("medianest_csrf=".length)) : "";
}

/** Spend the refresh cookie for new session cookies; true when it worked. */
export async function refreshSession() {
  if (!csrfToken()) { return false; }
  const response = await fetch("/api/v1/auth/refresh", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: "{}",
  });
  return response.ok;
}

/**
 * fetch() with the hub's conventions: credentials of this origin, the CSRF header on unsafe
 * methods, a JSON body when `body` is a plain object (FormData goes as it is). Answers
 * { status, ok, body, response }; `body` is the parsed JSON, or the text for other types.
 */
export async function send(url, { method = "GET", body, headers = {}, signal, retry = true } = {}) {
  const upper = method.toUpperCase();
  const init = { method: upper, credentials: "same-origin", headers: { Accept: "application/json", ...headers }, signal };
  if (!SAFE.has(upper)) { init.headers["X-CSRF-Token"] = csrfToken(); }
  if (body instanceof FormData || body instanceof URLSearchParams) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  if (response.status === 401 && retry && await refreshSession()) {
    return send(url, { method, body, headers, signal, retry: false });
  }
  const type = response.headers.get("Content-Type") || "";
  let parsed = null;
  if (type.includes("json")) { parsed = await response.json().catch(() => null); }
  else { parsed = await response.text(); }
  return { status: response.status, ok: response.ok, body: parsed, response };
}

/** The message of a problem answer, or a generic one naming the status. */
export function problemText(result) {
  const body = result && result.body;
  if (body && typeof body === "object" && body.detail) { return String(body.detail); }
  return `The hub answered ${result ? result.status : "nothing"}.`;
}
