"""The HTTP client a plugin talks to its upstream service with.

:class:`UpstreamClient` wraps an ``httpx.AsyncClient`` and turns every kind of upstream trouble
into an SDK error whose message names the service (``label``) and the call, and whose
``source`` is the provider id the plugin passes. Core knows these errors: a sync retries the
transient ones with back-off, the API answers them as 502/504 problems.

=====================================  ===============================
upstream                               raised
=====================================  ===============================
no answer within the timeout           ``UpstreamTimeoutError``
connection refused, DNS, TLS, reset    ``UpstreamUnreachableError``
HTTP 401 / 403                         ``UpstreamAuthError``
HTTP 404                               ``NotFoundError``
HTTP 429                               ``UpstreamRateLimitedError`` (``retry_after`` from
                                       ``Retry-After``: seconds or an HTTP date)
HTTP 5xx                               ``UpstreamError`` (``status`` set)
other 3xx / 4xx                        ``UpstreamError`` (``status`` set)
body not JSON (``json``)               ``UpstreamDataError``
body not XML (``xml``)                 ``UpstreamDataError``
=====================================  ===============================

Secrets never reach a message or a log line: the values of the headers named in
``secret_headers`` (``Authorization``, ``X-Api-Key``, ``X-Plex-Token`` ... given to the client
or to one request) and of query parameters named in ``secret_params`` are replaced by
``***`` wherever a message would show them. Requests are logged at debug level, redacted.

Use one client per upstream service and close it (``aclose`` or ``async with``) when the
plugin shuts down.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import httpx
import orjson

from medianest.sdk.errors import (
    NotFoundError,
    UpstreamAuthError,
    UpstreamDataError,
    UpstreamError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)

__all__ = [
    "DEFAULT_SECRET_HEADERS",
    "DEFAULT_SECRET_PARAMS",
    "QueryParams",
    "UpstreamClient",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

Scalar = str | int | float | bool
QueryParams = Sequence[tuple[str, Scalar]] | Mapping[str, Scalar]
"""Query parameters: pairs (repeated names allowed, order kept) or a mapping."""

DEFAULT_SECRET_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-plex-token"}
)
"""Headers whose values are secrets, in lower case (extended by ``secret_headers``)."""

DEFAULT_SECRET_PARAMS: Final = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "x-plex-token", "password"}
)
"""Query parameter names whose values are secrets, in lower case (extended by ``secret_params``)."""

E = TypeVar("E", bound=UpstreamError)

REDACTED: Final = "***"
_DETAIL_LIMIT: Final = 200
_MIN_SECRET_LENGTH: Final = 4


UPSTREAM_EXTENSION: Final = "medianest.upstream"
"""The httpx request extension every request of an :class:`UpstreamClient` carries:
``{"source", "plugin", "redact"}``, so that the hub's tracing names the source of each
upstream call and shows its URL with secrets masked."""


class UpstreamClient:
    """Requests to one upstream service, failures raised as SDK errors.

    :param base_url: the service's base URL; request paths are relative to it.
    :param label: how messages name the service (``Plex server 'home'``, ``YouTube``).
    :param source: the provider id (``plex:home``) or service name raised errors carry.
    :param plugin: the key of the plugin making the calls, carried by raised errors.
    :param timeout: seconds a request may take (connect, read, write and pool each).
    :param headers: sent on every request (identification, ``Accept``, credentials).
    :param secret_headers: more header names whose values must never be shown.
    :param secret_params: more query parameter names whose values must never be shown.
    :param verify: check the server's TLS certificate.
    :param follow_redirects: follow 3xx answers; when off, a 3xx is an ``UpstreamError``.
    :param transport: an httpx transport to use instead of the network.
    """

    def __init__(
        self,
        *,
        base_url: str,
        label: str,
        source: str,
        plugin: str | None = None,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        secret_headers: Iterable[str] = (),
        secret_params: Iterable[str] = (),
        verify: bool = True,
        follow_redirects: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.base_url = base_url
        self.label = label
        self.source = source
        self.plugin = plugin
        self.timeout = timeout
        self._secret_headers = DEFAULT_SECRET_HEADERS | {h.lower() for h in secret_headers}
        self._secret_params = DEFAULT_SECRET_PARAMS | {p.lower() for p in secret_params}
        self._secrets: set[str] = set()
        self._remember_secrets(headers)
        self._extensions = {
            UPSTREAM_EXTENSION: {"source": source, "plugin": plugin, "redact": self.redact}
        }
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout),
            verify=verify,
            follow_redirects=follow_redirects,
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; the client is unusable afterwards."""
        await self._http.aclose()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` has run."""
        return self._http.is_closed

    # -- requests --------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: bytes | str | None = None,
        time_limit: float | None = None,
    ) -> httpx.Response:
        """Send one request and return the successful (2xx) response, its body read.

        :param time_limit: seconds this request may take, instead of the client's timeout.
        :raises UpstreamError: or a subclass, or ``NotFoundError``: see the module's table.
        """
        self._remember_secrets(headers)
        what = self.describe(method, path)
        limit = self.timeout if time_limit is None else time_limit
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %s %s", self.label, method, self.redact(self._url_of(path, params)))
        try:
            response = await self._http.request(
                method,
                path,
                params=_query(params),
                headers=dict(headers) if headers else None,
                json=json_body,
                content=content,
                timeout=httpx.Timeout(limit),
                extensions=self._extensions,
            )
        except httpx.TimeoutException as exc:
            raise self.error(
                UpstreamTimeoutError, f"{self.label} did not answer {what} within {limit:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise self.error(
                UpstreamUnreachableError,
                f"could not reach {self.label} at {self.redact(self.base_url)} "
                f"for {what}: {_reason(exc)}",
            ) from exc
        if not 200 <= response.status_code < 300:
            raise self.status_error(response, what)
        return response

    async def get_json(
        self,
        path: str,
        *,
        params: QueryParams | None = None,
        headers: Mapping[str, str] | None = None,
        time_limit: float | None = None,
    ) -> Any:
        """GET ``path`` and return its JSON body.

        :raises UpstreamDataError: the body is not JSON.
        :raises UpstreamError: or a subclass, or ``NotFoundError``: see the module's table.
        """
        body, _ = await self.request_json(
            "GET", path, params=params, headers=headers, time_limit=time_limit
        )
        return body

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: QueryParams | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        time_limit: float | None = None,
    ) -> tuple[Any, httpx.Response]:
        """Send one request and return its parsed JSON body with the response.

        :raises UpstreamDataError: the body is not JSON.
        :raises UpstreamError: or a subclass, or ``NotFoundError``: see the module's table.
        """
        response = await self.request(
            method, path, params=params, headers=headers, json_body=json_body, time_limit=time_limit
        )
        return self.json(response, self.describe(method, path)), response

    # -- bodies ----------------------------------------------------------------------------

    def json(self, response: httpx.Response, what: str) -> Any:
        """The JSON body of ``response``, the answer to ``what`` (``GET /path``).

        :raises UpstreamDataError: the body is empty, XML or HTML, or not valid JSON.
        """
        content_type = response.headers.get("content-type", "")
        if "xml" in content_type or "html" in content_type:
            kind = "XML" if "xml" in content_type else "HTML"
            raise self.error(
                UpstreamDataError,
                f"{self.label} answered {what} with {kind} instead of JSON",
                response.status_code,
            )
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            # orjson refuses some JSON the standard library reads (a lone surrogate escape,
            # NaN, a number too large for a double); the plugin decides what to make of it.
            pass
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise self.error(
                UpstreamDataError,
                f"{self.label} answered {what} with a body that is not valid JSON",
                response.status_code,
            ) from exc

    def xml(self, response: httpx.Response, what: str) -> ElementTree.Element:
        """The XML body of ``response`` as its root element.

        Document type declarations (and so entity definitions) are refused.

        :raises UpstreamDataError: the body is not well-formed XML, or declares a DTD.
        """
        if b"<!DOCTYPE" in response.content or b"<!ENTITY" in response.content:
            raise self.error(
                UpstreamDataError,
                f"{self.label} answered {what} with XML that declares a document type",
                response.status_code,
            )
        try:
            return ElementTree.fromstring(response.content)  # noqa: S314 - no DTD, checked above
        except ElementTree.ParseError as exc:
            raise self.error(
                UpstreamDataError,
                f"{self.label} answered {what} with a body that is not well-formed XML",
                response.status_code,
            ) from exc

    # -- errors ----------------------------------------------------------------------------

    def describe(self, method: str, path: str) -> str:
        """``METHOD path`` as messages name a call, secrets redacted."""
        return f"{method.upper()} {self.redact(path)}"

    def status_error(self, response: httpx.Response, what: str) -> Exception:
        """The SDK error for a response that is not a success (see the module's table)."""
        status = response.status_code
        detail = self.redact(_error_detail(response))
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            return self.error(
                UpstreamAuthError,
                f"{self.label} refused our credentials (HTTP {status}) for {what}{suffix}",
                status,
            )
        if status == 404:
            return NotFoundError(
                f"{self.label} has nothing at {what} (HTTP 404)", plugin=self.plugin
            )
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            when = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            return UpstreamRateLimitedError(
                f"{self.label} asked us to slow down (HTTP 429) on {what}{when}",
                retry_after=retry_after,
                source=self.source,
                status=status,
                plugin=self.plugin,
            )
        if status >= 500:
            message = f"{self.label} failed with HTTP {status} on {what}{suffix}"
        elif status < 400:
            where = response.headers.get("location")
            to = f" to {self.redact(where)}" if where else ""
            message = f"{self.label} answered {what} with HTTP {status}{to}"
        else:
            message = f"{self.label} rejected {what} with HTTP {status}{suffix}"
        return self.error(UpstreamError, message, status)

    def error(self, kind: type[E], message: str, status: int | None = None) -> E:
        """An upstream error of ``kind`` about this service, secrets redacted."""
        return kind(self.redact(message), source=self.source, status=status, plugin=self.plugin)

    def data_error(self, message: str) -> UpstreamDataError:
        """An ``UpstreamDataError`` "<label> <message>" (``message`` should name the call)."""
        return self.error(UpstreamDataError, f"{self.label} {message}")

    def redact(self, text: str) -> str:
        """``text`` with every known secret value and secret query parameter hidden."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        text = _USERINFO.sub(rf"\g<scheme>{REDACTED}@", text)
        return _SECRET_PARAM.sub(self._hide_param, text)

    def _hide_param(self, match: re.Match[str]) -> str:
        if match.group("name").lower() in self._secret_params:
            return f"{match.group('lead')}{match.group('name')}={REDACTED}"
        return match.group(0)

    def _remember_secrets(self, headers: Mapping[str, str] | None) -> None:
        for name, value in (headers or {}).items():
            if name.lower() not in self._secret_headers or not value:
                continue
            self._secrets.add(value)
            scheme, _, credential = value.partition(" ")
            if credential and scheme.isalpha():
                self._secrets.add(credential)
        self._secrets = {s for s in self._secrets if len(s) >= _MIN_SECRET_LENGTH}

    def _url_of(self, path: str, params: QueryParams | None) -> str:
        query = _query(params)
        if not query:
            return path
        return f"{path}?{httpx.QueryParams(query)}"


_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_SECRET_PARAM = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&#\s]+)=[^&#\s]*")


def _query(params: QueryParams | None) -> list[tuple[str, Scalar | None]] | None:
    if not params:
        return None
    pairs = params.items() if isinstance(params, Mapping) else params
    return [(name, value) for name, value in pairs]


def _reason(exc: httpx.HTTPError) -> str:
    """What went wrong on the way, in words (httpx often says only "All connection attempts
    failed"; the operating system's error is further down the chain of causes)."""
    if isinstance(exc, httpx.ConnectError):
        for cause in _causes(exc):
            if isinstance(cause, ConnectionRefusedError):
                return "connection refused"
            if isinstance(cause, socket.gaierror):
                return "the host name does not resolve"
            if isinstance(cause, ssl.SSLError):
                return "the TLS handshake failed (is the certificate trusted?)"
            if isinstance(cause, OSError) and cause.strerror:
                return cause.strerror.lower()
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was closed without a valid answer"
    return str(exc) or type(exc).__name__


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _error_detail(response: httpx.Response) -> str:
    """The upstream's own error message (``errors[0].message``, ``detail``...), if any."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = errors[0].get("message")
            if isinstance(message, str):
                return message[:_DETAIL_LIMIT]
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:_DETAIL_LIMIT]
        for key in ("detail", "message", "error"):
            value = body.get(key)
            if isinstance(value, str):
                return value[:_DETAIL_LIMIT]
    return ""


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now (it may be a number or an HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
