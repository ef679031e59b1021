"""The HTTP client of one Overseerr instance, with Overseerr's errors as SDK errors.

Every call carries the instance's ``X-Api-Key``; a call made *as a person* adds
``X-Api-User: <their Overseerr user id>`` (:meth:`OverseerrClient.call`'s ``as_user``), so
Overseerr records and checks it as theirs. Query strings are encoded with ``%20`` for spaces:
Overseerr validates every request against its OpenAPI document and refuses a ``+``.

How Overseerr's answers reach callers (on top of :mod:`medianest.sdk.http`'s table):

=================================================  =========================================
Overseerr                                          raised
=================================================  =========================================
403 whose message mentions a quota                 ``PermissionDeniedError`` (says "quota")
403 on a call made as a person                     ``PermissionDeniedError`` (their rights)
403 on a call made with the key alone              ``UpstreamAuthError`` (the key is refused)
409 (a duplicate request)                          ``ConflictError``
400 (a request Overseerr's validator refused)      ``InvalidInputError`` naming the field
404                                                ``NotFoundError``
5xx, 429, timeouts, refused connections, garbage   ``Upstream*Error`` naming the instance
=================================================  =========================================

The key never appears in a message or a log line (the SDK client redacts it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from medianest.sdk.errors import ConflictError, InvalidInputError, PermissionDeniedError
from medianest.sdk.http import UpstreamClient
from medianest_overseerr.const import HEADER_API_KEY, HEADER_API_USER, PLUGIN_KEY
from medianest_overseerr.settings import InstanceSettings

Query = Sequence[tuple[str, str | int]]

_DETAIL_LIMIT = 200


def encode_query(params: Query) -> str:
    """``name=value&...`` with every reserved character percent-encoded (spaces as ``%20``)."""
    return "&".join(
        f"{quote(name, safe='')}={quote(str(value), safe='')}" for name, value in params
    )


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


def overseerr_message(response: httpx.Response) -> str:
    """Overseerr's own words about an error: ``message`` (Express handler) or ``error``
    (the auth middleware), at most 200 characters; empty when there are none."""
    body = _body(response)
    for key in ("message", "error"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:_DETAIL_LIMIT]
    return ""


def _field_of(response: httpx.Response) -> str | None:
    """The parameter Overseerr's validator blamed (``.query.query`` → ``query``)."""
    errors = _body(response).get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        path = errors[0].get("path")
        if isinstance(path, str) and path:
            return path.rsplit(".", 1)[-1] or None
    return None


class OverseerrClient(UpstreamClient):
    """Requests to one Overseerr instance (``label`` ``Overseerr 'home'``)."""

    def __init__(
        self, instance: InstanceSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.instance = instance
        super().__init__(
            base_url=instance.api_url,
            label=f"Overseerr '{instance.name}'",
            source=instance.provider_id,
            plugin=PLUGIN_KEY,
            timeout=instance.timeout,
            headers={
                "Accept": "application/json",
                HEADER_API_KEY: instance.api_key.get_secret_value(),
            },
            verify=instance.verify_tls,
            transport=transport,
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        as_user: int | None = None,
        json_body: Any = None,
        time_limit: float | None = None,
    ) -> httpx.Response:
        """Send one request, as Overseerr user ``as_user`` when given; the 2xx response.

        :raises MediaNestError: the SDK error for Overseerr's answer (see the module's table).
        """
        target = f"{path}?{encode_query(query)}" if query else path
        headers = {HEADER_API_USER: str(as_user)} if as_user is not None else None
        return await self.request(
            method, target, headers=headers, json_body=json_body, time_limit=time_limit
        )

    async def call_json(
        self,
        method: str,
        path: str,
        *,
        query: Query = (),
        as_user: int | None = None,
        json_body: Any = None,
        time_limit: float | None = None,
    ) -> tuple[Any, httpx.Response]:
        """:meth:`call` and the parsed JSON body.

        :raises UpstreamDataError: the body is not JSON.
        """
        response = await self.call(
            method, path, query=query, as_user=as_user, json_body=json_body, time_limit=time_limit
        )
        return self.json(response, self.describe(method, path)), response

    def status_error(self, response: httpx.Response, what: str) -> Exception:
        """Overseerr's refusals as the SDK errors core answers with (module table)."""
        status = response.status_code
        message = self.redact(overseerr_message(response))
        said = f": {message}" if message else ""
        if status == 403:
            if "quota" in message.lower():
                return PermissionDeniedError(
                    f"{self.label} refused the request: the person's request quota there is "
                    f"used up ({message})",
                    plugin=self.plugin,
                )
            if HEADER_API_USER in response.request.headers:
                return PermissionDeniedError(
                    f"{self.label} does not allow this person {what}{said}", plugin=self.plugin
                )
        if status == 409:
            return ConflictError(f"{self.label} already has this request{said}", plugin=self.plugin)
        if status == 400:
            return InvalidInputError(
                f"{self.label} rejected {what}{said}", field=_field_of(response), plugin=self.plugin
            )
        return super().status_error(response, what)
