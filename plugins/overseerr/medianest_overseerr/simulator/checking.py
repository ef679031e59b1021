"""Checking traffic against Overseerr's OpenAPI document with openapi-core (for tests).

:class:`SpecChecker` observes a served world (``world.observers.append(checker.observe)``) and
validates, for every ``/api/v1`` exchange, the request the client sent (parameters, body,
the ``X-Api-Key`` security requirement) and the answer the simulator gave (against the
response schema of its status, when the document declares one). A plugin's tests use it to
show that every call the plugin makes is one the real server accepts.

Needs ``openapi-core`` (a test dependency), which is why the package does not import this
module itself.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.datastructures import ImmutableMultiDict

from medianest_overseerr.simulator.spec import load_spec
from medianest_overseerr.simulator.world import Exchange

SERVER = "http://localhost:5055"
"""The document's server (``{server}/api/v1``, default ``http://localhost:5055``)."""


class SpecChecker:
    """Validates observed exchanges; failures are kept as readable lines."""

    def __init__(self) -> None:
        self.api = OpenAPI.from_dict(load_spec())
        self.reset()

    def reset(self) -> None:
        """Forget what was checked so far."""
        self.requests_checked = 0
        self.responses_checked = 0
        self.undeclared = 0
        self.request_failures: list[str] = []
        self.response_failures: list[str] = []

    def _request(self, exchange: Exchange) -> MockRequest:
        args = ImmutableMultiDict(parse_qsl(exchange.query, keep_blank_values=True))
        headers = {k: v for k, v in exchange.request_headers.items()}
        content_type = headers.get("Content-Type", headers.get("content-type", ""))
        return MockRequest(
            SERVER,
            exchange.method.lower(),
            exchange.path,
            args=args,
            headers=headers,
            data=exchange.request_body or None,
            content_type=content_type.split(";")[0] or "application/json",
        )

    def check_request(self, exchange: Exchange) -> None:
        """Validate what the client sent."""
        try:
            self.api.validate_request(self._request(exchange))
        except Exception as exc:
            self.request_failures.append(
                f"{exchange.method} {exchange.path}?{exchange.query}: "
                f"{exc} ({exc.__cause__ or exc})"
            )
            return
        self.requests_checked += 1

    def check_response(self, exchange: Exchange) -> None:
        """Validate the answer, when the document declares its status."""
        if exchange.status == 204 or not exchange.content_type.startswith("application/json"):
            self.undeclared += 1
            return
        response = MockResponse(
            exchange.body,
            status_code=exchange.status,
            content_type=exchange.content_type.split(";")[0],
        )
        try:
            self.api.validate_response(self._request(exchange), response)
        except (ResponseNotFound, PathNotFound, OperationNotFound):
            self.undeclared += 1
            return
        except Exception as exc:
            self.response_failures.append(
                f"{exchange.method} {exchange.path}?{exchange.query} -> {exchange.status}: "
                f"{exc} ({exc.__cause__ or exc})"
            )
            return
        self.responses_checked += 1

    def observe(self, exchange: Exchange) -> None:
        """Check both sides of an exchange (a world observer)."""
        self.check_request(exchange)
        self.check_response(exchange)

    def assert_responses_valid(self) -> None:
        """Fail when an answer broke its schema."""
        assert not self.response_failures, "answers that break the spec:\n" + "\n".join(
            self.response_failures
        )

    def assert_requests_valid(self) -> None:
        """Fail when a client sent a request the document does not allow."""
        assert not self.request_failures, "requests that break the spec:\n" + "\n".join(
            self.request_failures
        )
