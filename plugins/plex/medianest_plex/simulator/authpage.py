"""The approval page standing in for ``https://app.plex.tv/auth``.

Clients send the browser to ``<base>/auth#?clientID=...&code=...&forwardUrl=...&context%5B
device%5D%5Bproduct%5D=...``. As on plex.tv the parameters travel in the URL *fragment*, so
the page reads them in the browser: it shows the product name, offers one button per
simulated account, posts the choice to ``POST /auth/approve`` and then sends the browser to
``forwardUrl`` (only http/https targets are followed).

Fragment values are only ever written with ``textContent``; account names are HTML-escaped
on the server; a Content-Security-Policy pins the inline script and style by hash.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from typing import Any

from quart import Blueprint, Response, request

from medianest_plex.simulator.errors import WorldError
from medianest_plex.simulator.web import json_response, problem
from medianest_plex.simulator.world import PlexWorld

STYLE = """
body { font-family: system-ui, sans-serif; background: #1f1f1f; color: #eee; margin: 0; }
main { max-width: 28rem; margin: 4rem auto; padding: 2rem; background: #2b2b2b;
       border-radius: 8px; }
h1 { font-size: 1.3rem; margin-top: 0; }
button { display: block; width: 100%; margin: .5rem 0; padding: .7rem; font-size: 1rem;
         border: 0; border-radius: 4px; background: #e5a00d; color: #1f1f1f; cursor: pointer; }
button:disabled { opacity: .5; cursor: default; }
.role { font-size: .8rem; opacity: .75; }
#status { min-height: 1.5rem; margin-top: 1rem; }
"""

SCRIPT = """
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.hash.replace(/^#\\??/, ""));
  var code = params.get("code") || "";
  var clientID = params.get("clientID") || "";
  var forwardUrl = params.get("forwardUrl") || "";
  var product = params.get("context[device][product]") || "An application";
  var status = document.getElementById("status");
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button[data-account]"));
  document.getElementById("product").textContent = product;
  function setBusy(busy) { buttons.forEach(function (b) { b.disabled = busy; }); }
  function safeTarget(url) {
    if (!url) { return ""; }
    try {
      var target = new URL(url, window.location.href);
      return (target.protocol === "http:" || target.protocol === "https:") ? target.href : "";
    } catch (err) { return ""; }
  }
  if (!code) {
    status.textContent = "This sign-in link has no PIN code.";
    setBusy(true);
    return;
  }
  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      setBusy(true);
      status.textContent = "Signing in\\u2026";
      fetch("/auth/approve", {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({code: code, clientID: clientID, account: button.dataset.account})
      }).then(function (response) {
        return response.json().then(function (body) { return {ok: response.ok, body: body}; });
      }).then(function (result) {
        if (!result.ok) {
          status.textContent = String(result.body.error || "Approval failed.");
          setBusy(false);
          return;
        }
        var target = safeTarget(forwardUrl);
        if (target) { window.location.assign(target); return; }
        status.textContent = "Signed in as " + String(result.body.title) +
          ". You can close this window.";
      }).catch(function () {
        status.textContent = "Could not reach the sign-in service.";
        setBusy(false);
      });
    });
  });
})();
"""


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


CSP = (
    "default-src 'none'; "
    f"script-src 'sha256-{_digest(SCRIPT)}'; "
    f"style-src 'sha256-{_digest(STYLE)}'; "
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def render_page(world: PlexWorld) -> str:
    """The approval page HTML (accounts listed as buttons)."""
    buttons = "\n".join(
        f'<button type="button" data-account="{html.escape(a.key)}">'
        f'{html.escape(a.title)} <span class="role">({html.escape(a.role.value)})</span>'
        "</button>"
        for a in world.accounts.values()
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Sign in with Plex</title>"
        f"<style>{STYLE}</style></head><body><main>"
        '<h1><span id="product">An application</span> wants to sign in with Plex</h1>'
        "<p>Choose the account to sign in as:</p>"
        f'{buttons}<p id="status" role="status"></p></main>'
        f"<script>{SCRIPT}</script></body></html>"
    )


async def _read_body() -> dict[str, Any] | None:
    raw = await request.get_data(as_text=False)
    if isinstance(raw, str):
        raw = raw.encode()
    if request.mimetype == "application/json":
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        return body if isinstance(body, dict) else None
    form = await request.form
    return {k: form.get(k) for k in ("code", "clientID", "account", "pin")}


def build_auth_blueprint(world: PlexWorld) -> Blueprint:
    """``GET /auth`` (the page) and ``POST /auth/approve`` (the approval it sends)."""
    bp = Blueprint("authpage", __name__)

    @bp.get("/auth")
    @bp.get("/auth/")
    async def page() -> Response:
        """The approval page."""
        response = Response(render_page(world), content_type="text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    @bp.post("/auth/approve")
    async def approve() -> Response:
        """Approve a PIN: JSON or form ``{code, clientID?, account}``; 200 with the account."""
        body = await _read_body()
        if body is None:
            return problem(400, "the body must be a JSON object or a form")
        code, account = body.get("code"), body.get("account")
        client_id = body.get("clientID") or None
        if not isinstance(code, str) or not code or not isinstance(account, str) or not account:
            return problem(400, "code and account are required")
        if client_id is not None and not isinstance(client_id, str):
            return problem(400, "clientID must be a string")
        if account not in world.accounts:
            return problem(400, f"unknown account {account[:40]!r}")
        try:
            pin = world.find_pin(code=code)
        except WorldError:
            return problem(404, "Code not found or expired")
        if client_id is not None and client_id != pin.client_identifier:
            return problem(400, "the PIN was created by a different client")
        world.approve_pin(account, pin_id=pin.id)
        chosen = world.accounts[account]
        return json_response(
            {"ok": True, "account": chosen.key, "title": chosen.title, "pin": pin.id}
        )

    return bp
