"""The webhook notifier (``notify:webhook``): a JSON POST per delivery, signed on request.

A person's address of kind ``"webhook"`` is either a bare ``http(s)`` URL or a JSON object
``{"url": ..., "template"?: ..., "secret"?: ...}``: ``template`` is the body (JSON text or a
JSON value, see :mod:`medianest_notify.template`), ``secret`` the key the body is signed
with. The admin channel posts to ``webhook.admin_webhooks``.

Every request carries:

- ``Content-Type: application/json; charset=utf-8`` and the body from the template;
- ``Idempotency-Key``: the delivery's id, the same on every retry of the same delivery;
- ``X-MediaNest-Event``: the event type;
- with a secret, ``X-MediaNest-Timestamp`` (Unix seconds) and ``X-MediaNest-Signature:
  sha256=<hex>``, the HMAC-SHA256 of ``<timestamp>.<body>`` (the exact bytes sent) under the
  secret. A receiver recomputes it, compares in constant time, and refuses timestamps older
  than a few minutes (so a captured request cannot be replayed later).

Answers: 2xx delivered; 408, 5xx, timeouts and connection failures are ``UpstreamError``
(retried); 429 is ``UpstreamRateLimitedError`` with ``Retry-After``; 401/403 are
``PermissionDeniedError`` and other 3xx/4xx ``InvalidInputError`` (permanent: the receiver
will not change its mind; redirects are not followed). A destination that resolves to a private
address is refused (see :mod:`medianest_notify.destinations`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from medianest.sdk import (
    HubContext,
    InvalidInputError,
    MediaNestError,
    Notification,
    PermissionDeniedError,
    Recipient,
    UpstreamError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from medianest.sdk.http import parse_retry_after
from medianest_notify.const import (
    EVENT_HEADER,
    FLAG_WEBHOOK,
    IDEMPOTENCY_HEADER,
    MAX_ADDRESS_CHARS,
    PLUGIN_KEY,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    USER_AGENT,
    WEBHOOK_ID,
)
from medianest_notify.delivery import delivery_id_of, who
from medianest_notify.destinations import (
    GuardedTransport,
    PrivateDestinationError,
    check_destination,
    label,
    parse_url,
)
from medianest_notify.settings import WebhookSettings
from medianest_notify.template import DEFAULT_TEMPLATE, parse_template, render, values_for

log = logging.getLogger(__name__)

MIN_SECRET_LENGTH = 16
_DETAIL_LIMIT = 200
_ADDRESS_KEYS = frozenset({"url", "template", "secret"})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the HMAC-SHA256 of ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance: float = 300,
    now: float | None = None,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent (a reference
    implementation for receivers written in Python, used by the tests)."""
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        return False
    if abs(age) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """One destination: its URL, its template (a parsed JSON tree, or ``None`` for the
    default), its signing secret, and whether it may be on a private network."""

    url: str
    template: Any = None
    secret: str | None = None
    trusted: bool = False


def parse_address(address: str) -> tuple[WebhookTarget, str]:
    """A person's webhook address read into a target, with the form to store.

    :raises InvalidInputError: naming the part that is wrong (``address``, ``url``,
        ``template``, ``secret``).
    """
    text = address.strip()
    if not text:
        raise InvalidInputError("the webhook address is empty", field="address")
    if len(text) > MAX_ADDRESS_CHARS:
        raise InvalidInputError(
            f"the webhook address is too long (at most {MAX_ADDRESS_CHARS} characters)",
            field="address",
        )
    if not text.startswith("{"):
        parse_url(text, field="url")
        return WebhookTarget(url=text), text
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidInputError(
            'the webhook address is neither a URL nor a JSON object {"url": ...}', field="address"
        ) from exc
    if not isinstance(raw, dict):
        raise InvalidInputError("the webhook address must be a JSON object", field="address")
    unknown = sorted(set(raw) - _ADDRESS_KEYS)
    if unknown:
        raise InvalidInputError(
            f"the webhook address has unknown keys: {', '.join(unknown)} "
            "(known: url, template, secret)",
            field="address",
        )
    url = raw.get("url")
    if not isinstance(url, str):
        raise InvalidInputError("the webhook address needs a url (a string)", field="url")
    url = url.strip()
    parse_url(url, field="url")
    template = raw.get("template")
    tree = None
    if template is not None:
        if not isinstance(template, str | dict | list):
            raise InvalidInputError(
                "template must be JSON text or a JSON object or array", field="template"
            )
        tree = parse_template(template, field="template")
    secret = raw.get("secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH):
        raise InvalidInputError(
            f"secret must be a string of at least {MIN_SECRET_LENGTH} characters", field="secret"
        )
    stored: dict[str, Any] = {"url": url}
    if template is not None:
        stored["template"] = template
    if secret is not None:
        stored["secret"] = secret
    normal = url if len(stored) == 1 else json.dumps(stored, ensure_ascii=False, sort_keys=True)
    return WebhookTarget(url=url, template=tree, secret=secret), normal


class WebhookNotifier:
    """POSTs a JSON body built from a template to the recipient's webhook, or to the admin
    channel's webhooks for a role recipient."""

    id = WEBHOOK_ID
    name = "Webhook"
    address_kind: str | None = "webhook"

    def __init__(
        self,
        settings: WebhookSettings,
        hub: HubContext | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._hub = hub
        self._default = (
            parse_template(settings.default_template, field="webhook.default_template")
            if settings.default_template is not None
            else DEFAULT_TEMPLATE
        )
        timeout = httpx.Timeout(settings.timeout)
        options: dict[str, Any] = {
            "timeout": timeout,
            "follow_redirects": False,
            "trust_env": False,
            "headers": {"User-Agent": USER_AGENT},
        }
        self._people = httpx.AsyncClient(
            transport=transport
            or GuardedTransport(
                allow_private=settings.allow_private_destinations, verify=settings.verify_tls
            ),
            **options,
        )
        self._admins = httpx.AsyncClient(
            transport=transport or GuardedTransport(allow_private=True, verify=settings.verify_tls),
            **options,
        )
        self._admin_targets = [
            WebhookTarget(
                url=target.url.get_secret_value(),
                template=parse_template(target.template, field="template")
                if target.template is not None
                else None,
                secret=target.secret.get_secret_value() if target.secret else None,
                trusted=True,
            )
            for target in settings.admin_webhooks
        ]

    async def aclose(self) -> None:
        """Close the connection pools (core calls it when the hub stops)."""
        await self._people.aclose()
        await self._admins.aclose()

    async def check_address(self, address: str) -> str:
        """The address to store, once its URL, template and secret are valid and its host
        resolves to an allowed address. Nothing is sent.

        :raises InvalidInputError: naming ``address``, ``url``, ``template`` or ``secret``.
        """
        target, normal = parse_address(address)
        await check_destination(
            target.url, allow_private=self.settings.allow_private_destinations, field="url"
        )
        return normal

    async def send(
        self,
        notification: Notification,
        recipient: Recipient,
        address: str | None,
        *,
        delivery_id: str | None = None,
    ) -> None:
        """Deliver to the recipient's webhook, or to every admin webhook for a role.

        :raises UpstreamError: retry later (see the module's table).
        :raises InvalidInputError: the receiver refused for good, the address is no longer
            valid, or it points at a private network.
        :raises PermissionDeniedError: the receiver refused our credentials (401/403), or an
            admin switched webhook deliveries off (``notify.webhook``).
        """
        if self._hub is not None and not self._hub.flags.is_enabled(FLAG_WEBHOOK):
            raise PermissionDeniedError(
                "webhook deliveries are switched off (flag notify.webhook)", plugin=PLUGIN_KEY
            )
        if address is not None:
            targets = [parse_address(address)[0]]
        elif recipient.role == "admin":
            targets = self._admin_targets
        else:
            targets = []
        if not targets:
            log.debug("no webhook for %s: nothing to deliver", who(recipient))
            return
        key = delivery_id_of(notification, self.id, recipient, address, delivery_id)
        failure: MediaNestError | None = None
        for target in targets:
            try:
                await self.post(notification, recipient, target, key)
            except MediaNestError as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    def body(
        self,
        notification: Notification,
        recipient: Recipient,
        target: WebhookTarget,
        delivery_id: str,
    ) -> bytes:
        """The exact bytes posted to ``target`` for this delivery."""
        values = values_for(
            notification,
            recipient,
            delivery_id=delivery_id,
            timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        return render(target.template if target.template is not None else self._default, values)

    async def post(
        self,
        notification: Notification,
        recipient: Recipient,
        target: WebhookTarget,
        delivery_id: str,
    ) -> None:
        """POST one delivery to ``target`` and map the answer (see the module's table)."""
        parts = parse_url(target.url, field="url")
        where = label(parts)
        body = self.body(notification, recipient, target, delivery_id)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            IDEMPOTENCY_HEADER: delivery_id,
            EVENT_HEADER: notification.event_type,
        }
        if target.secret:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(target.secret, timestamp, body)
        client = self._admins if target.trusted else self._people
        try:
            response = await client.post(target.url, content=body, headers=headers)
        except PrivateDestinationError as exc:
            raise InvalidInputError(str(exc), field="url", plugin=PLUGIN_KEY) from None
        except httpx.TimeoutException:
            raise UpstreamTimeoutError(
                f"the webhook at {where} did not answer within {self.settings.timeout:g} s",
                source=self.id,
                plugin=PLUGIN_KEY,
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamUnreachableError(
                f"could not reach the webhook at {where}: {_reason(exc)}",
                source=self.id,
                plugin=PLUGIN_KEY,
            ) from None
        self._check_answer(response, where)

    def _check_answer(self, response: httpx.Response, where: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = _detail(response)
        suffix = f": {detail}" if detail else ""
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            when = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            raise UpstreamRateLimitedError(
                f"the webhook at {where} asked us to slow down (HTTP 429){when}",
                retry_after=retry_after,
                source=self.id,
                status=status,
                plugin=PLUGIN_KEY,
            )
        if status == 408 or status >= 500:
            raise UpstreamError(
                f"the webhook at {where} failed with HTTP {status}{suffix}",
                source=self.id,
                status=status,
                plugin=PLUGIN_KEY,
            )
        if status in (401, 403):
            raise PermissionDeniedError(
                f"the webhook at {where} refused the delivery (HTTP {status}){suffix}; "
                "check its secret",
                plugin=PLUGIN_KEY,
            )
        if 300 <= status < 400:
            raise InvalidInputError(
                f"the webhook at {where} answered with a redirect (HTTP {status}); redirects "
                "are not followed: give the final URL",
                field="url",
                plugin=PLUGIN_KEY,
            )
        raise InvalidInputError(
            f"the webhook at {where} rejected the delivery with HTTP {status}{suffix}",
            field="address",
            plugin=PLUGIN_KEY,
        )


def _detail(response: httpx.Response) -> str:
    """The start of the receiver's answer, printable characters only."""
    text = response.content[: _DETAIL_LIMIT * 2].decode("utf-8", "replace")
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    return text[:_DETAIL_LIMIT]


def _reason(exc: httpx.HTTPError) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectError):
        return "the connection failed" + (f" ({exc})" if str(exc) else "")
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was closed without a valid answer"
    return type(exc).__name__
