// The sign-in page: drives /api/v1/auth for each sign-in method the page lists, then goes
// to the page asked for (data-next: a path of this hub, checked by the server) or Home.
//
// Interactive methods (Plex): start, remember the handle for this tab, go to the provider's
// page; its forwardUrl brings the browser back here, where polling resumes until the person
// is signed in or refused. Credentials methods: post the form. Text from the server or the
// provider is only ever written with textContent. A session whose access token ran out is
// renewed from its refresh cookie first, without asking anything.
import { refreshSession } from "./net.js";

(function () {
  "use strict";

  var API = "/api/v1/auth/providers/";
  var PENDING = "medianest.sign-in.pending";
  var status = document.getElementById("status");
  var cancel = document.getElementById("cancel");
  var controls = Array.prototype.slice.call(
    document.querySelectorAll("button.provider, form.credentials fieldset")
  );
  var timer = null;
  var section = document.querySelector("section.signin");
  var next = section ? section.dataset.next || "/" : "/";
  if (next.charAt(0) !== "/" || next.charAt(1) === "/" || next.indexOf("\\") !== -1) { next = "/"; }

  function show(text, kind) {
    status.textContent = text;
    status.className = kind || "";
  }

  function setBusy(busy) {
    controls.forEach(function (control) { control.disabled = busy; });
  }

  function call(providerId, action, body) {
    return fetch(API + encodeURIComponent(providerId) + "/" + action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, body: data };
      });
    });
  }

  function reason(result) {
    var body = result.body || {};
    if (!body.detail) { return "Sign-in failed (HTTP " + result.status + ")."; }
    return (body.code === "sign_in_refused" ? "Not signed in: " : "") + String(body.detail);
  }

  function signedIn(body) {
    var user = body.user || {};
    var name = user.display_name || user.username || "?";
    show("Signed in as " + name + " (" + (user.role === "admin" ? "admin" : "user") + ")", "ok");
    window.location.assign(next);
  }

  function forget() {
    window.sessionStorage.removeItem(PENDING);
    cancel.hidden = true;
    if (timer !== null) { window.clearTimeout(timer); timer = null; }
  }

  function fail(message) {
    forget();
    show(message, "error");
    setBusy(false);
  }

  function safeTarget(url) {
    try {
      var target = new URL(url, window.location.href);
      return (target.protocol === "http:" || target.protocol === "https:") ? target.href : "";
    } catch (err) { return ""; }
  }

  function poll(pending) {
    if (Date.now() > Date.parse(pending.expiresAt)) {
      fail("The sign-in expired; start again.");
      return;
    }
    call(pending.provider, "poll", { handle: pending.handle }).then(function (result) {
      if (window.sessionStorage.getItem(PENDING) === null) { return; }  // cancelled meanwhile
      if (result.status === 202) {
        timer = window.setTimeout(function () { poll(pending); }, pending.interval);
      } else if (result.status === 200) {
        forget();
        signedIn(result.body);
        setBusy(false);
      } else {
        fail(reason(result));
      }
    }).catch(function () { fail("Could not reach the hub."); });
  }

  function resume() {
    var saved = window.sessionStorage.getItem(PENDING);
    if (saved === null) { return; }
    var pending;
    try { pending = JSON.parse(saved); } catch (err) { forget(); return; }
    setBusy(true);
    cancel.hidden = false;
    show("Waiting for " + pending.name + " to confirm the sign-in\u2026");
    poll(pending);
  }

  function start(button) {
    var providerId = button.dataset.provider;
    var here = window.location.origin + window.location.pathname + window.location.search;
    setBusy(true);
    show("Starting\u2026");
    call(providerId, "start", { forward_url: here }).then(function (result) {
      var target = result.status === 200 ? safeTarget(result.body.url) : "";
      if (!target) {
        fail(result.status === 200 ? "The sign-in page address is not usable." : reason(result));
        return;
      }
      window.sessionStorage.setItem(PENDING, JSON.stringify({
        provider: providerId,
        name: button.dataset.name || providerId,
        handle: result.body.handle,
        expiresAt: result.body.expires_at,
        interval: Math.max(500, Math.round(1000 * (result.body.poll_interval_seconds || 1)))
      }));
      window.location.assign(target);
    }).catch(function () { fail("Could not reach the hub."); });
  }

  function submit(form, event) {
    event.preventDefault();
    var credentials = {
      username: form.elements.username.value,
      password: form.elements.password.value
    };
    setBusy(true);
    show("Signing in\u2026");
    call(form.dataset.provider, "sign-in", { credentials: credentials }).then(function (result) {
      setBusy(false);
      form.elements.password.value = "";
      if (result.status === 200) { signedIn(result.body); } else { show(reason(result), "error"); }
    }).catch(function () { fail("Could not reach the hub."); });
  }

  document.querySelectorAll("button.provider").forEach(function (button) {
    button.addEventListener("click", function () { start(button); });
  });
  document.querySelectorAll("form.credentials").forEach(function (form) {
    form.addEventListener("submit", function (event) { submit(form, event); });
  });
  cancel.addEventListener("click", function () {
    forget();
    show("Sign-in cancelled.");
    setBusy(false);
  });
  if (window.sessionStorage.getItem(PENDING) === null) {
    refreshSession().then(function (renewed) {
      if (renewed) { window.location.assign(next); } else { setBusy(false); }
    }).catch(function () { setBusy(false); });
  } else {
    resume();
  }
})();
