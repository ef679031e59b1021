"""Webhook bodies from a user-editable JSON template.

A template is JSON (an object, usually) whose string values may hold placeholders such as
``{{subject}}``. The template is parsed first and the placeholders are filled in the parsed
tree, then the tree is serialised: whatever a title contains (quotes, newlines, emoji, a
``"}`` meant to break out), the body is valid JSON and the value stays inside its string.

- A string that is exactly one placeholder (``"{{request.id}}"``) becomes the value itself,
  ``null`` when the notification has none.
- A placeholder inside a longer string (``"New: {{subject}}"``) is replaced by its text, the
  empty string when it has none.
- Keys are never filled in; ``{{`` that does not start a known placeholder is refused when the
  template is checked, naming the placeholder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from medianest.sdk import InvalidInputError, Notification, Recipient
from medianest_notify.const import MAX_TEMPLATE_CHARS, MAX_TEMPLATE_DEPTH

PLACEHOLDERS: Final[dict[str, str]] = {
    "event": "the event type (request.available)",
    "subject": "the notification's title",
    "message": "the notification's text",
    "link": "where to read more (a hub page), or null",
    "image": "a picture URL (a poster), or null",
    "media.source": "the media source id (plex:home), or null",
    "media.item_id": "the item's id in that source, or null",
    "media.url": "a link to open the item in its own app, or null",
    "ids.tmdb": "the TMDB id, when the notification carries external ids, else null",
    "ids.imdb": "the IMDb id, likewise",
    "ids.tvdb": "the TVDB id, likewise",
    "ids.youtube": "the YouTube id, likewise",
    "request.id": "the request's id in its backend, or null",
    "request.backend": "the request backend id (overseerr:main), or null",
    "user": "the recipient's username (null for an admin channel)",
    "user.id": "the recipient's user id (null for an admin channel)",
    "role": "the role of a channel recipient (admin), or null",
    "delivery.id": "this delivery's id, the same on every retry (also the Idempotency-Key)",
    "timestamp": "when this delivery was sent, ISO 8601 in UTC",
}
"""Every placeholder a template may use, with what it stands for (shown in the docs)."""

DEFAULT_TEMPLATE: Final[dict[str, Any]] = {
    "event": "{{event}}",
    "subject": "{{subject}}",
    "message": "{{message}}",
    "link": "{{link}}",
    "image": "{{image}}",
    "media": {"source": "{{media.source}}", "item_id": "{{media.item_id}}"},
    "ids": {"tmdb": "{{ids.tmdb}}", "imdb": "{{ids.imdb}}", "tvdb": "{{ids.tvdb}}"},
    "request": {"backend": "{{request.backend}}", "id": "{{request.id}}"},
    "user": "{{user}}",
    "delivery_id": "{{delivery.id}}",
    "timestamp": "{{timestamp}}",
}
"""The body when a destination has no template of its own."""

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_WHOLE = re.compile(r"^\{\{\s*([^{}]*?)\s*\}\}$")


def parse_template(template: str | Mapping[str, Any] | list[Any], *, field: str) -> Any:
    """The template as a JSON tree, checked: valid JSON, not too large or deep, and only known
    placeholders.

    :param template: JSON text, or an already parsed object or array.
    :param field: how errors name it (``template``, ``webhook.default_template``).
    :raises InvalidInputError: naming ``field`` and what is wrong.
    """
    if isinstance(template, str):
        if len(template) > MAX_TEMPLATE_CHARS:
            raise InvalidInputError(
                f"the template is too long ({len(template)} characters, at most "
                f"{MAX_TEMPLATE_CHARS})",
                field=field,
            )
        try:
            tree = json.loads(template)
        except (ValueError, RecursionError) as exc:
            where = (
                f" (line {exc.lineno}, column {exc.colno}: {exc.msg})"
                if isinstance(exc, json.JSONDecodeError)
                else ""
            )
            raise InvalidInputError(f"the template is not valid JSON{where}", field=field) from exc
    else:
        tree = template
        if len(json.dumps(tree)) > MAX_TEMPLATE_CHARS:
            raise InvalidInputError(
                f"the template is too long (at most {MAX_TEMPLATE_CHARS} characters of JSON)",
                field=field,
            )
    if not isinstance(tree, dict | list):
        raise InvalidInputError(
            "the template must be a JSON object or array, the body the receiver gets",
            field=field,
        )
    _check(tree, field, depth=0)
    return tree


def _check(node: Any, field: str, depth: int) -> None:
    if depth > MAX_TEMPLATE_DEPTH:
        raise InvalidInputError(
            f"the template is nested too deeply (at most {MAX_TEMPLATE_DEPTH} levels)", field=field
        )
    if isinstance(node, dict):
        for value in node.values():
            _check(value, field, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _check(value, field, depth + 1)
    elif isinstance(node, str):
        for name in _PLACEHOLDER.findall(node):
            if name not in PLACEHOLDERS:
                raise InvalidInputError(
                    f"the template uses an unknown placeholder {{{{{name[:40]}}}}}; known: "
                    + ", ".join(PLACEHOLDERS),
                    field=field,
                )


def values_for(
    notification: Notification,
    recipient: Recipient,
    *,
    delivery_id: str,
    timestamp: str,
) -> dict[str, Any]:
    """The value of every placeholder for one delivery (``None`` where there is none)."""
    ids: Any = getattr(notification, "ids", None)
    media = notification.media
    request = notification.request
    return {
        "event": notification.event_type,
        "subject": notification.title,
        "message": notification.body,
        "link": notification.link,
        "image": notification.image,
        "media.source": media.source if media else None,
        "media.item_id": media.item_id if media else None,
        "media.url": media.url if media else None,
        "ids.tmdb": getattr(ids, "tmdb", None),
        "ids.imdb": getattr(ids, "imdb", None),
        "ids.tvdb": getattr(ids, "tvdb", None),
        "ids.youtube": getattr(ids, "youtube", None),
        "request.id": request.request_id if request else None,
        "request.backend": request.backend if request else None,
        "user": recipient.username,
        "user.id": recipient.user_id,
        "role": recipient.role,
        "delivery.id": delivery_id,
        "timestamp": timestamp,
    }


def render(tree: Any, values: Mapping[str, Any]) -> bytes:
    """The body: ``tree`` (from :func:`parse_template`) with its placeholders filled, as UTF-8
    JSON (non-ASCII characters kept as they are)."""
    filled = _fill(tree, values)
    return json.dumps(filled, ensure_ascii=False, separators=(",", ":")).encode()


def _fill(node: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, values) for value in node]
    if isinstance(node, str):
        whole = _WHOLE.match(node)
        if whole:
            return values.get(whole.group(1))
        return _PLACEHOLDER.sub(lambda m: _text(values.get(m.group(1))), node)
    return node


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)
