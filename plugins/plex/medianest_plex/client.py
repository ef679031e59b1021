"""The HTTP plumbing shared by the Plex Media Server and plex.tv clients.

:class:`PlexHttp` sends Plex's identification headers, asks for JSON and turns every kind of
upstream trouble into an SDK error whose message names the service and says what happened:

=====================================  ===============================
upstream                               raised
=====================================  ===============================
HTTP 401 / 403                         ``UpstreamAuthError``
HTTP 404                               ``NotFoundError``
HTTP 429                               ``UpstreamRateLimitedError``
other 4xx, 5xx, connection failures    ``UpstreamError``
no answer within the timeout           ``UpstreamTimeoutError``
non-JSON body, unexpected JSON shape   ``UpstreamDataError``
=====================================  ===============================

Tokens travel only in the ``X-Plex-Token`` header and never appear in a message or a log.
The clients themselves are :class:`medianest_plex.pms.PlexServerClient` and
:class:`medianest_plex.plextv.PlexTvClient`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from medianest.sdk import (
    NotFoundError,
    UpstreamAuthError,
    UpstreamDataError,
    UpstreamError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
)
from medianest_plex.const import (
    DEVICE,
    HEADER_CLIENT_IDENTIFIER,
    HEADER_DEVICE,
    HEADER_DEVICE_NAME,
    HEADER_PLATFORM,
    HEADER_PRODUCT,
    HEADER_TOKEN,
    HEADER_VERSION,
    PLATFORM,
    PLUGIN_KEY,
    PLUGIN_VERSION,
)

Params = Sequence[tuple[str, str | int]]
Trace = Callable[[str, dict[str, Any]], Awaitable[None]]

_DETAIL_LIMIT = 200


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """How this hub identifies itself to Plex (the same on every request and replica)."""

    client_identifier: str
    product: str
    version: str = PLUGIN_VERSION

    def headers(self) -> dict[str, str]:
        """The ``X-Plex-*`` identification headers plus ``Accept: application/json``."""
        return {
            "Accept": "application/json",
            HEADER_CLIENT_IDENTIFIER: self.client_identifier,
            HEADER_PRODUCT: self.product,
            HEADER_VERSION: self.version,
            HEADER_PLATFORM: PLATFORM,
            HEADER_DEVICE: DEVICE,
            HEADER_DEVICE_NAME: self.product,
        }


class PlexHttp:
    """Request plumbing shared by the PMS and plex.tv clients.

    :param label: how messages name the service (``Plex server 'home'``, ``plex.tv``).
    :param source: the ``source`` carried by raised ``UpstreamError``s.
    """

    def __init__(
        self,
        *,
        base_url: str,
        label: str,
        source: str,
        identity: ClientIdentity,
        timeout: float,
        verify: bool = True,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = identity.headers()
        if token is not None:
            headers[HEADER_TOKEN] = token
        self.base_url = base_url
        self.label = label
        self.source = source
        self.timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            verify=verify,
            follow_redirects=False,
            transport=transport,
        )

    async def aclose(self) -> None:
        """Close the connection pool; the client is unusable afterwards."""
        await self._http.aclose()

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        time_limit: float | None = None,
    ) -> tuple[Any, httpx.Response]:
        """Send one request and return its parsed JSON body and the response.

        :raises UpstreamError: (or a subclass, see the module table) on any failure.
        """
        response = await self.send(
            method, path, params=params, headers=headers, time_limit=time_limit
        )
        return self.decode(response, f"{method} {path}"), response

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        time_limit: float | None = None,
        trace: Trace | None = None,
    ) -> httpx.Response:
        """Send one request and return the successful response, its body read but not parsed.

        :param trace: an httpx ``trace`` extension callback, told of each step of the exchange.
        :raises UpstreamError: (or a subclass, see the module table) on any failure but a
            body that is not JSON, which only :meth:`decode` notices.
        """
        what = f"{method} {path}"
        limit = self.timeout if time_limit is None else time_limit
        try:
            response = await self._http.request(
                method,
                path,
                params=list(params) if params else None,
                headers=dict(headers) if headers else None,
                timeout=httpx.Timeout(limit),
                extensions={"trace": trace} if trace is not None else None,
            )
        except httpx.TimeoutException as exc:
            raise self._error(
                UpstreamTimeoutError, f"{self.label} did not answer {what} within {limit:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise self._error(
                UpstreamError, f"could not reach {self.label} at {self.base_url}: {reason}"
            ) from exc
        if response.status_code >= 300:
            raise self._status_error(response, what)
        return response

    async def start(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> asyncio.Task[httpx.Response]:
        """:meth:`send` in the background; returns once the request has gone out.

        Creating a task is not enough to overlap the server's work with the caller's: the
        task would not write its request until the caller next awaits, which for a caller
        about to parse and map a page is only after that CPU-bound work. So this waits
        until the request body has been written (or the exchange has already ended, e.g.
        on a transport that reports no progress), and the server works on the answer
        while the caller goes on. The caller owns the task: it awaits it for the response
        or cancels it.
        """
        sent = asyncio.Event()

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event.endswith(".send_request_body.complete"):
                sent.set()

        task = asyncio.ensure_future(
            self.send(method, path, params=params, headers=headers, trace=trace)
        )
        # A task cancelled unread must not log "exception was never retrieved".
        task.add_done_callback(_retrieve)
        waiter = asyncio.ensure_future(sent.wait())
        try:
            await asyncio.wait((task, waiter), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            raise
        finally:
            waiter.cancel()
        return task

    def decode(self, response: httpx.Response, what: str) -> Any:
        """The JSON body of a response from :meth:`send` to ``what`` (``GET /path``).

        :raises UpstreamDataError: the body is XML or not valid JSON.
        """
        content_type = response.headers.get("content-type", "")
        if "xml" in content_type:
            raise self._error(
                UpstreamDataError,
                f"{self.label} answered {what} with XML instead of JSON",
                response.status_code,
            )
        try:
            # orjson: decoding is most of a library read's cost on this side.
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            # orjson refuses some JSON the standard library reads: a lone surrogate escape,
            # NaN or Infinity, a number too large for a double. In a listing that is one odd
            # item, which mapping skips on its own; it must not fail the whole page.
            pass
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self._error(
                UpstreamDataError,
                f"{self.label} answered {what} with a body that is not valid JSON",
                response.status_code,
            ) from exc

    def _status_error(self, response: httpx.Response, what: str) -> Exception:
        status = response.status_code
        detail = _error_detail(response)
        suffix = f": {detail}" if detail else ""
        if status in (401, 403):
            return self._error(
                UpstreamAuthError,
                f"{self.label} refused our credentials (HTTP {status}) for {what}{suffix}",
                status,
            )
        if status == 404:
            message = f"{self.label} has nothing at {what} (HTTP 404)"
            return NotFoundError(message, plugin=PLUGIN_KEY)
        if status == 429:
            retry_after = _retry_after(response.headers.get("retry-after"))
            when = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            return UpstreamRateLimitedError(
                f"{self.label} asked us to slow down (HTTP 429) on {what}{when}",
                retry_after=retry_after,
                source=self.source,
                status=status,
                plugin=PLUGIN_KEY,
            )
        if status >= 500:
            message = f"{self.label} failed with HTTP {status} on {what}{suffix}"
        else:
            message = f"{self.label} rejected {what} with HTTP {status}{suffix}"
        return self._error(UpstreamError, message, status)

    def _error(
        self, kind: type[UpstreamError], message: str, status: int | None = None
    ) -> UpstreamError:
        return kind(message, source=self.source, status=status, plugin=PLUGIN_KEY)

    def data_error(self, message: str) -> UpstreamDataError:
        """An ``UpstreamDataError`` about this service (``message`` should name the call)."""
        return UpstreamDataError(f"{self.label} {message}", source=self.source, plugin=PLUGIN_KEY)


def _retrieve(task: asyncio.Task[httpx.Response]) -> None:
    if not task.cancelled():
        task.exception()


def _error_detail(response: httpx.Response) -> str:
    """The upstream's own error message (plex.tv ``errors[]`` or a short text), if any."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = errors[0].get("message")
            if isinstance(message, str):
                return message[:_DETAIL_LIMIT]
        for key in ("detail", "message", "error"):
            value = body.get(key)
            if isinstance(value, str):
                return value[:_DETAIL_LIMIT]
    return ""


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (it may be a number or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
