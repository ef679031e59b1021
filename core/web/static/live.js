// Live updates from the hub: one WebSocket on /api/v1/live, shared by everything on the page.
//
//   import { follow } from "./live.js";
//   follow(["sync"], (topic, data) => { ... });
//
// The socket authenticates with the session cookie (the hub checks its Origin). When the
// connection is lost the page shows a quiet banner and reconnects with a growing pause; once
// back, it subscribes again. A close meaning "sign in again" (4401) first refreshes the
// session, and stops trying when that fails; 1012 (a replica restarting) reconnects at once.
// Error frames are logged to the console.
//
// Every event carries its topic's sequence id. The page remembers the last id of each topic
// and, when it subscribes again after a lost connection, asks for what followed it: the hub
// replays exactly the missed events before the live ones. When the hub no longer holds them
// all it sends a "gap" frame instead, and the document gets a "live:gap" event (detail: the
// topic) so the page reloads its state. Each (re)subscription also fires "live:subscribed".
import { refreshSession } from "./net.js";

const handlers = new Map(); // topic -> Set of callbacks
const lastIds = new Map(); // topic -> last id seen
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

function subscribe(topics) {
  if (!socket || socket.readyState !== WebSocket.OPEN || !topics.length) { return; }
  const since = {};
  for (const topic of topics) {
    if (lastIds.has(topic)) { since[topic] = lastIds.get(topic); }
  }
  const frame = { type: "subscribe", topics };
  if (Object.keys(since).length) { frame.since = since; }
  socket.send(JSON.stringify(frame));
}

function subscribeAll() {
  subscribe([...handlers.keys()]);
}

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${window.location.host}/api/v1/live`);
  socket.addEventListener("open", () => { delay = 1000; banner(""); subscribeAll(); });
  socket.addEventListener("message", (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    if (frame.type === "event") {
      if (Number.isInteger(frame.id)) { lastIds.set(frame.topic, frame.id); }
      for (const callback of handlers.get(frame.topic) || []) { callback(frame.topic, frame.data); }
    } else if (frame.type === "gap") {
      lastIds.set(frame.topic, frame.id);
      document.dispatchEvent(new CustomEvent("live:gap", { detail: frame.topic }));
    } else if (frame.type === "error") {
      console.warn("live updates:", frame.message);
    } else if (frame.type === "subscribed") {
      for (const [topic, id] of Object.entries(frame.ids || {})) {
        if (!lastIds.has(topic)) { lastIds.set(topic, id); }
      }
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
  const added = [];
  for (const topic of topics) {
    if (!handlers.has(topic)) { handlers.set(topic, new Set()); added.push(topic); }
    handlers.get(topic).add(callback);
  }
  if (!socket) { connect(); } else { subscribe(added); }
}

/** The last sequence id seen of `topic` (undefined before its first subscription). */
export function lastId(topic) {
  return lastIds.get(topic);
}

window.addEventListener("pagehide", () => { stopped = true; if (socket) { socket.close(1000); } });
