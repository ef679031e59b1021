"""The receiver for the webhooks Plex Media Server sends (``POST /webhook/<secret>``).

Core mounts the blueprint under ``/api/v1/plugins/plex``, so the URL to paste into Plex's
Webhooks settings is ``https://<hub>/api/v1/plugins/plex/webhook/<webhook_secret>``. Plex
does not sign webhooks: the unguessable secret in the path is what authenticates them, so the
route is declared public (no sign-in). The secret is compared in constant time; without a
configured secret, with a wrong one, or while the ``plex.webhooks`` flag is off, the answer
is 404.

Plex posts ``multipart/form-data`` with the event as JSON in the ``payload`` field:

- ``library.new`` asks core for an incremental sync of the server that sent it
  (``Server.uuid`` is its machineIdentifier) with ``hub.request_sync``; core runs one per
  server at a time;
- ``media.play``/``pause``/``resume``/``stop``/``scrobble`` become domain events of the same
  type, about the item ``Metadata.ratingKey`` of that server; ``hub.emit`` only buffers them,
  so the answer never waits for analytics sinks;
- any other event is acknowledged (202) and ignored.

A body that is not multipart, lacks the payload, or lacks a field the event needs gets a 400
``application/problem+json`` saying what was wrong; each kind of problem is logged once.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from quart import Blueprint, Response, request

from medianest.sdk import (
    DomainEvent,
    HubContext,
    MediaNestError,
    NotFoundError,
    SourceRef,
    current_hub,
    public,
)
from medianest.sdk.web import PROBLEM_JSON, problem, responds
from medianest_plex.const import (
    FLAG_WEBHOOKS,
    LIBRARY_NEW_EVENT,
    PLAYBACK_EVENTS,
    PLUGIN_KEY,
)
from medianest_plex.settings import PlexSettings
from medianest_plex.source import PlexMediaSource

log = logging.getLogger(__name__)

WEBHOOK_PROBLEM = f"{PLUGIN_KEY}.webhook."
"""Prefix of the codes of this receiver's problems (``plex.webhook.not-multipart``)."""


class _BadPayload(Exception):
    """The webhook body is unusable; ``kind`` is a stable code, ``detail`` says why."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def _problem(status: int, kind: str, title: str, detail: str) -> Response:
    return problem(status, f"{WEBHOOK_PROBLEM}{kind}", detail, title=title)


def _accepted(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=202, content_type="application/json")


class WebhookReceiver:
    """Handles webhook requests for one hub; remembers which problems it already logged."""

    def __init__(self, settings: PlexSettings) -> None:
        self.settings = settings
        secret = settings.webhook_secret
        self._secret = secret.get_secret_value().encode() if secret is not None else None
        self._logged: set[str] = set()

    def log_once(self, kind: str, message: str, *args: Any) -> None:
        """Log ``message`` the first time a problem of ``kind`` happens."""
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning(message, *args)

    async def handle(self, secret: str) -> Response:
        """The view: check the secret, parse the body, act on the event."""
        if self._secret is None or not hmac.compare_digest(secret.encode(), self._secret):
            return _problem(404, "not-found", "Not Found", "there is no webhook here")
        hub = current_hub()
        if not _flag_enabled(hub):
            return _problem(404, "disabled", "Not Found", "Plex webhooks are switched off")
        try:
            payload = await self._payload()
            return await self._dispatch(hub, payload)
        except _BadPayload as exc:
            self.log_once(f"bad:{exc.kind}", "refused a Plex webhook: %s", exc.detail)
            return _problem(400, exc.kind, "Bad Plex webhook", exc.detail)

    async def _payload(self) -> dict[str, Any]:
        if request.mimetype != "multipart/form-data":
            got = request.mimetype or "no content type"
            raise _BadPayload(
                "not-multipart", f"expected multipart/form-data with a payload field, got {got}"
            )
        try:
            form = await request.form
        except ValueError as exc:
            raise _BadPayload("bad-multipart", "the multipart body could not be parsed") from exc
        raw = form.get("payload")
        if raw is None:
            raise _BadPayload("missing-payload", "the multipart body has no payload field")
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise _BadPayload("invalid-json", "the payload field is not valid JSON") from exc
        try:
            # A lone surrogate escape is valid JSON but not text: refuse it here, before it
            # reaches a job id, a cache key or a log line.
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError) as exc:
            raise _BadPayload(
                "invalid-json", "the payload field is not UTF-8 text nested a few levels deep"
            ) from exc
        if not isinstance(payload, dict):
            raise _BadPayload("payload-not-object", "the payload field is not a JSON object")
        return payload

    async def _dispatch(self, hub: HubContext, payload: dict[str, Any]) -> Response:
        event = payload.get("event")
        if not isinstance(event, str) or not event:
            raise _BadPayload("missing-event", "the payload has no event name")
        if event != LIBRARY_NEW_EVENT and event not in PLAYBACK_EVENTS:
            return _accepted({"status": "ignored", "event": event, "reason": "not handled"})
        server_uuid = _text(_section(payload, "Server"), "uuid")
        if server_uuid is None:
            raise _BadPayload("missing-field", f"a {event} payload needs Server.uuid")
        rating_key = _text(_section(payload, "Metadata"), "ratingKey")
        if event in PLAYBACK_EVENTS and rating_key is None:
            raise _BadPayload("missing-field", f"a {event} payload needs Metadata.ratingKey")
        source = await self._source_for(hub, server_uuid)
        if source is None:
            self.log_once(
                "unknown-server",
                "ignoring a Plex webhook from server %s: it is not one of this hub's servers",
                server_uuid,
            )
            return _accepted({"status": "ignored", "event": event, "reason": "unknown server"})
        if event == LIBRARY_NEW_EVENT:
            await self._enqueue_sync(hub, source)
        else:
            await hub.emit(_playback_event(event, source, str(rating_key), payload))
        return _accepted({"status": "accepted", "event": event, "source": source})

    async def _source_for(self, hub: HubContext, machine_identifier: str) -> str | None:
        """The id of the configured server whose machineIdentifier this is."""
        for server in self.settings.servers:
            try:
                provider = hub.provider(server.source_id)
            except NotFoundError:
                continue
            if not isinstance(provider, PlexMediaSource):
                continue
            try:
                known = await provider.machine_identifier()
            except MediaNestError as exc:
                self.log_once(
                    f"identity:{server.source_id}",
                    "cannot match webhooks to %s: %s",
                    server.source_id,
                    exc.message,
                )
                continue
            if hmac.compare_digest(known.encode(), machine_identifier.encode()):
                return server.source_id
        return None

    async def _enqueue_sync(self, hub: HubContext, source: str) -> None:
        try:
            await hub.request_sync(source)
        except MediaNestError as exc:
            self.log_once(
                "no-sync", "Plex library.new webhooks cannot start a sync: %s", exc.message
            )


def _flag_enabled(hub: HubContext) -> bool:
    try:
        return hub.flags.is_enabled(FLAG_WEBHOOKS)
    except NotFoundError:
        return True


def _section(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _BadPayload("bad-field", f"{key} is not a JSON object")
    return value


def _text(section: dict[str, Any], key: str) -> str | None:
    value = section.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value else None


def _pick(section: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    return {
        target: section[name]
        for name, target in fields.items()
        if isinstance(section.get(name), (str, int, float, bool))
    }


def _playback_event(
    event: str, source: str, rating_key: str, payload: dict[str, Any]
) -> DomainEvent:
    metadata = _section(payload, "Metadata")
    data: dict[str, Any] = {
        "account": _pick(_section(payload, "Account"), {"id": "id", "title": "title"}),
        "player": _pick(
            _section(payload, "Player"), {"title": "title", "uuid": "uuid", "local": "local"}
        ),
        "server": _pick(_section(payload, "Server"), {"uuid": "uuid", "title": "title"}),
        "media": _pick(
            metadata,
            {
                "type": "type",
                "title": "title",
                "grandparentTitle": "show_title",
                "parentIndex": "season_number",
                "index": "index",
                "year": "year",
                "librarySectionID": "section_id",
            },
        ),
    }
    for flag in ("owner", "user"):
        if isinstance(payload.get(flag), bool):
            data[flag] = payload[flag]
    return DomainEvent(
        type=event,
        source=source,
        item=SourceRef(source=source, item_id=rating_key),
        data=data,
    )


def make_blueprint(settings: PlexSettings) -> Blueprint:
    """The webhook blueprint for one hub (its own receiver state; no module globals)."""
    blueprint = Blueprint(f"{PLUGIN_KEY}_webhooks", __name__)
    receiver = WebhookReceiver(settings)

    @public
    @responds(
        202, "The event is accepted, or acknowledged and ignored", media_type="application/json"
    )
    @responds(
        400,
        "The body is not a Plex webhook (multipart with a JSON payload)",
        media_type=PROBLEM_JSON,
    )
    @responds(404, "No webhook here: a wrong secret, or webhooks are off", media_type=PROBLEM_JSON)
    async def webhook(secret: str) -> Response:
        """Receive an event from Plex Media Server (the secret in the path authenticates it)."""
        return await receiver.handle(secret)

    blueprint.add_url_rule("/webhook/<secret>", "webhook", webhook, methods=["POST"])
    return blueprint
