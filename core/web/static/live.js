// Live updates from the hub: one WebSocket on /api/v1/live, shared by everything on the page.
//
//   import { follow } from "./live.js";
//   follow(["sync"], (topic, data) => { ... });
//
// The socket authenticates with the session cookie (the hub checks its Origin). When the
// connection is lost the page shows a quiet banner and reconnects with a growing pause; once
// back, it subscribes again. A close meaning "sign in again" (4401) first refreshes the
// session, and stops trying when that fails; 1012 (a replica restarting) reconnects at once.
// Error frames are logged to the console. Each
// (re)subscription fires a "live:subscribed" event on the document, so a page can fetch what
// it may have missed while it was not connected.
import { refreshSession } from "./net.js";

const handlers = new Map(); // topic -> Set of callbacks
let socket = null;
let delay = 1000;
let stopped = false;
const MAX_DELAY = 30000;
const SERVICE_RESTART = 1012;

function banner(text) {
  const element = document.getElementById("live-banner");
  if (!element) { return; }
  element.textContent = text || "";
  element.hidden = !text;
}

function lostText() {
  return document.documentElement.lang === "fr"
    ? "Connexion perdue : reconnexion…"
    : "Connection lost: reconnecting…";
}

function subscribeAll() {
  if (socket && socket.readyState === WebSocket.OPEN && handlers.size) {
    socket.send(JSON.stringify({ type: "subscribe", topics: [...handlers.keys()] }));
  }
}

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${window.location.host}/api/v1/live`);
  socket.addEventListener("open", () => { delay = 1000; banner(""); subscribeAll(); });
  socket.addEventListener("message", (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    if (frame.type === "event") {
      for (const callback of handlers.get(frame.topic) || []) { callback(frame.topic, frame.data); }
    } else if (frame.type === "error") {
      console.warn("live updates:", frame.message);
    } else if (frame.type === "subscribed") {
      document.documentElement.dataset.live = "on";
      document.dispatchEvent(new CustomEvent("live:subscribed", { detail: frame.topics }));
    }
  });
  socket.addEventListener("close", async (event) => {
    socket = null;
    delete document.documentElement.dataset.live;
    if (stopped) { return; }
    if (event.code === 4401 && !(await refreshSession())) { banner(""); return; }
    if (event.code === SERVICE_RESTART) {
      // The replica is draining: another one answers, so come back at once (a little jitter
      // keeps every page of that replica from arriving in the same millisecond).
      setTimeout(connect, Math.random() * 250);
      return;
    }
    banner(lostText());
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, MAX_DELAY);
  });
}

/** Call `callback(topic, data)` for every event of `topics` from now on. */
export function follow(topics, callback) {
  for (const topic of topics) {
    if (!handlers.has(topic)) { handlers.set(topic, new Set()); }
    handlers.get(topic).add(callback);
  }
  if (!socket) { connect(); } else { subscribeAll(); }
}

window.addEventListener("pagehide", () => { stopped = true; if (socket) { socket.close(1000); } });
