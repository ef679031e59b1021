"""Errors of the request authentication layer (core maps them to 401 and 403 problems)."""

from __future__ import annotations

from medianest.sdk.errors import AuthenticationError, PermissionDeniedError


class InvalidCredentialsError(AuthenticationError):
    """No credentials, or ones that do not let the request in: a malformed, expired, tampered,
    foreign or revoked token, an unknown API key, a deactivated user.

    Answered with a 401 whose detail never says which of these it was; the message is for
    logs and tests only.
    """


class CsrfFailedError(PermissionDeniedError):
    """A cookie-authenticated unsafe request without the matching ``X-CSRF-Token`` header."""

    code = "csrf_failed"


class ApiKeyNotAllowedError(PermissionDeniedError):
    """An API key on a route that needs an interactive session (managing the account)."""

    code = "api_key_not_allowed"
