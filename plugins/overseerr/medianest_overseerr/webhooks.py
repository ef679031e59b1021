"""The receiver for the webhooks Overseerr sends (``POST /webhook/<instance>``).

Core mounts the blueprint under ``/api/v1/plugins/overseerr``, so the URL to paste into
Overseerr's Settings > Notifications > Webhook is
``https://<hub>/api/v1/plugins/overseerr/webhook/<instance name>``, with the instance's
``webhook_secret`` as the *Authorization Header* and the default JSON payload.

- The ``Authorization`` header is compared with the secret in constant time
  (``hmac.compare_digest``): missing or wrong → 401. An instance without a secret (or a name
  this hub does not know) → 404: no webhook there.
- A body that is not the JSON payload (not JSON, not an object, no ``notification_type``, a
  request notification without ``request.request_id`` or ``media``) → 400 naming what is wrong.
- The same body again within five minutes → 400: a replay. Bodies seen are remembered in the
  hub's shared state (Redis in scaled mode), so every replica refuses a replay any of them saw.
- ``TEST_NOTIFICATION`` (Overseerr's *Test* button) → 200.
- ``MEDIA_PENDING``, ``MEDIA_APPROVED``, ``MEDIA_AUTO_APPROVED``, ``MEDIA_AVAILABLE``,
  ``MEDIA_DECLINED`` and ``MEDIA_FAILED`` become a :class:`~medianest.sdk.MediaRequest`
  handed to ``hub.request_changed``: 200 when the hub knows the request, 202 (ignored)
  otherwise. Other notifications (issues, auto-requests) → 202, ignored.

Each kind of refusal is logged once per instance (a misconfigured Overseerr would otherwise
fill the log); secrets never reach a log line or an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from typing import Any

from quart import Blueprint, Response, request

from medianest.sdk import (
    HubContext,
    MediaNestError,
    MediaRequest,
    RequestStatus,
    current_hub,
    public,
)
from medianest.sdk.web import PROBLEM_JSON, problem, responds
from medianest_overseerr.const import PLUGIN_KEY, WEBHOOK_REPLAY_SECONDS
from medianest_overseerr.mapping import MEDIA_TYPES, external_ids
from medianest_overseerr.settings import OverseerrSettings

log = logging.getLogger(__name__)

WEBHOOK_PROBLEM = f"{PLUGIN_KEY}.webhook."
"""Prefix of the codes of this receiver's problems (``overseerr.webhook.forged``)."""

MAX_BODY_BYTES = 256 * 1024

STATUS_OF_NOTIFICATION: dict[str, RequestStatus] = {
    "MEDIA_PENDING": RequestStatus.PENDING,
    "MEDIA_APPROVED": RequestStatus.APPROVED,
    "MEDIA_AUTO_APPROVED": RequestStatus.APPROVED,
    "MEDIA_AVAILABLE": RequestStatus.AVAILABLE,
    "MEDIA_DECLINED": RequestStatus.DECLINED,
    "MEDIA_FAILED": RequestStatus.FAILED,
}
"""Overseerr's notification types about a request → the status the request now has."""
TEST_NOTIFICATION = "TEST_NOTIFICATION"

_YEAR_SUFFIX = re.compile(r"\s*\(\d{4}\)\s*$")


class _BadPayload(Exception):
    """The webhook body is unusable; ``kind`` is a stable code, ``detail`` says why."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def _problem(status: int, kind: str, title: str, detail: str) -> Response:
    return problem(status, f"{WEBHOOK_PROBLEM}{kind}", detail, title=title)


def _answer(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class WebhookReceiver:
    """Handles webhook requests for one hub; remembers which problems it already logged."""

    def __init__(self, settings: OverseerrSettings) -> None:
        self.settings = settings
        self._logged: set[str] = set()

    def log_once(self, kind: str, message: str, *args: Any) -> None:
        """Log ``message`` the first time a problem of ``kind`` happens."""
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning(message, *args)

    async def handle(self, name: str) -> Response:
        """The view: find the instance, check the secret, parse, refuse replays, act."""
        instance = self.settings.instance(name)
        if instance is None or instance.webhook_secret is None:
            return _problem(
                404, "not-found", "Not Found", f"there is no Overseerr webhook {name[:40]!r} here"
            )
        secret = instance.webhook_secret.get_secret_value().encode()
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, secret):
            self.log_once(
                f"forged:{name}",
                "refused an Overseerr webhook for instance %r: the Authorization header does "
                "not match its webhook_secret",
                name,
            )
            return _problem(
                401,
                "forged",
                "Unauthorized",
                "the Authorization header does not match this instance's webhook secret",
            )
        hub = current_hub()
        try:
            body = await request.get_data(cache=False)
            body = body.encode() if isinstance(body, str) else body
            payload = _parse(body)
            kind = payload["notification_type"]
            if kind == TEST_NOTIFICATION:
                return _answer(200, {"status": "ok", "notification_type": kind})
            status = STATUS_OF_NOTIFICATION.get(kind)
            if status is None:
                return _answer(
                    202, {"status": "ignored", "notification_type": kind, "reason": "not handled"}
                )
            changed = _to_request(instance.provider_id, payload, status)
            if not await self._first_time(hub, name, body):
                raise _BadPayload("replayed", "this webhook was received already (a replay)")
        except _BadPayload as exc:
            self.log_once(
                f"bad:{name}:{exc.kind}",
                "refused an Overseerr webhook for %r: %s",
                name,
                exc.detail,
            )
            return _problem(400, exc.kind, "Bad Overseerr webhook", exc.detail)
        return await self._deliver(hub, name, kind, changed)

    async def _first_time(self, hub: HubContext, name: str, body: bytes) -> bool:
        """True the first time this body arrives for ``name`` within the replay window, on
        any replica (one atomic count in the hub's shared state)."""
        digest = hashlib.sha256(body).hexdigest()
        key = f"{PLUGIN_KEY}:webhook:{name}:{digest}"
        seen = await hub.rate_limiter.hit(key, 1, WEBHOOK_REPLAY_SECONDS)
        return seen.allowed

    async def _deliver(
        self, hub: HubContext, name: str, kind: str, changed: MediaRequest
    ) -> Response:
        try:
            known = await hub.request_changed(changed)
        except MediaNestError as exc:
            self.log_once(
                f"failed:{name}",
                "an Overseerr webhook for %r was not applied: %s",
                name,
                exc.message,
            )
            return _answer(202, {"status": "ignored", "reason": exc.message})
        if not known:
            return _answer(
                202,
                {
                    "status": "ignored",
                    "notification_type": kind,
                    "reason": f"no request {changed.request_id} of {changed.backend} here",
                },
            )
        return _answer(
            200,
            {
                "status": "accepted",
                "notification_type": kind,
                "request": {"backend": changed.backend, "request_id": changed.request_id},
            },
        )


def _parse(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise _BadPayload("too-large", f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(body)
        json.dumps(payload, ensure_ascii=False).encode("utf-8")  # lone surrogates: not text
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _BadPayload("invalid-json", "the body is not valid JSON text") from exc
    if not isinstance(payload, dict):
        raise _BadPayload("not-object", "the body is not a JSON object")
    kind = payload.get("notification_type")
    if not isinstance(kind, str) or not kind.strip():
        raise _BadPayload("missing-field", "the payload has no notification_type")
    payload["notification_type"] = kind.strip()
    return payload


def _section(payload: dict[str, Any], key: str, kind: str) -> dict[str, Any]:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise _BadPayload("missing-field", f"a {kind} payload needs a {key} object")
    return value


def _to_request(backend: str, payload: dict[str, Any], status: RequestStatus) -> MediaRequest:
    kind = payload["notification_type"]
    details = _section(payload, "request", kind)
    media = _section(payload, "media", kind)
    raw_id = details.get("request_id")
    request_id = str(raw_id).strip() if isinstance(raw_id, (str, int)) else ""
    if not request_id.isdigit() or len(request_id) > 12 or int(request_id) == 0:
        raise _BadPayload(
            "bad-field", f"request.request_id {str(raw_id)[:20]!r} is not a request id"
        )
    media_type = media.get("media_type")
    if media_type not in MEDIA_TYPES:
        raise _BadPayload(
            "bad-field", f"media.media_type {str(media_type)[:20]!r} is not movie or tv"
        )
    ids = external_ids(media.get("tmdbId"), media.get("imdbId"), media.get("tvdbId"))
    if ids.tmdb is None and ids.tvdb is None:
        raise _BadPayload("bad-field", "media.tmdbId is not a TMDB id")
    subject = payload.get("subject")
    title = _YEAR_SUFFIX.sub("", subject).strip() if isinstance(subject, str) else ""
    requested_by = details.get("requestedBy_username")
    seasons = _requested_seasons(payload.get("extra")) if media_type == "tv" else ()
    return MediaRequest(
        backend=backend,
        request_id=str(int(request_id)),
        kind=MEDIA_TYPES[media_type],
        ids=ids,
        title=title[:300] or None,
        status=status,
        requested_by=requested_by if isinstance(requested_by, str) and requested_by else None,
        seasons=seasons,
    )


def _requested_seasons(extra: Any) -> tuple[int, ...]:
    """The seasons in the template's ``extra`` (``[{"name": "Requested Seasons",
    "value": "1, 2"}]``); empty when it does not say."""
    if not isinstance(extra, list):
        return ()
    for entry in extra:
        if isinstance(entry, dict) and entry.get("name") == "Requested Seasons":
            value = entry.get("value")
            if isinstance(value, str):
                parts = [p.strip() for p in value.split(",")]
                return tuple(sorted({int(p) for p in parts if p.isdigit() and len(p) < 5}))
    return ()


def make_blueprint(settings: OverseerrSettings) -> Blueprint:
    """The webhook blueprint for one hub (its own receiver state; no module globals)."""
    blueprint = Blueprint(f"{PLUGIN_KEY}_webhooks", __name__)
    receiver = WebhookReceiver(settings)

    @public
    @responds(
        200, "The test notification, or a change the hub applied", media_type="application/json"
    )
    @responds(
        202,
        "Acknowledged and ignored: not about a request, or about one the hub does not track",
        media_type="application/json",
    )
    @responds(400, "Not Overseerr's JSON payload, or a replay of one", media_type=PROBLEM_JSON)
    @responds(401, "The Authorization header is not the instance's secret", media_type=PROBLEM_JSON)
    @responds(
        404,
        "No webhook here: an unknown instance, or one without a secret",
        media_type=PROBLEM_JSON,
    )
    async def overseerr_webhook(instance: str) -> Response:
        """Receive a notification from Overseerr (its Authorization header authenticates it)."""
        return await receiver.handle(instance)

    blueprint.add_url_rule("/webhook/<instance>", "webhook", overseerr_webhook, methods=["POST"])
    return blueprint
