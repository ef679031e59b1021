"""What can go wrong with a request, beyond the SDK's errors: each maps to one problem."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from medianest.sdk.errors import ConflictError, MediaNestError, PermissionDeniedError

if TYPE_CHECKING:
    from medianest.core.requests.views import RequestView


class QuotaExceededError(PermissionDeniedError):
    """The person used up their requests of this kind for the period (403 ``quota_exceeded``).

    ``remaining`` and ``reset_at`` are set when known (the hub's own quota always knows; a
    backend's refusal may not say).
    """

    code = "quota_exceeded"

    def __init__(
        self,
        message: str,
        *,
        limit: int | None = None,
        days: int | None = None,
        remaining: int | None = None,
        reset_at: datetime | None = None,
        plugin: str | None = None,
    ) -> None:
        super().__init__(message, permission=None, plugin=plugin)
        self.limit = limit
        self.days = days
        self.remaining = remaining
        self.reset_at = reset_at

    def extensions(self) -> dict[str, Any]:
        """What the problem carries besides the message."""
        return {
            "limit": self.limit,
            "days": self.days,
            "remaining": self.remaining,
            "reset_at": self.reset_at.isoformat() if self.reset_at else None,
        }


class AlreadyRequestedError(ConflictError):
    """An open request for the same work exists (409 ``already_requested``); ``existing`` is
    it, with the asking person now among the interested. ``None`` when only the backend knows
    the request (it was filed there directly)."""

    code = "already_requested"

    def __init__(self, message: str, *, existing: RequestView | None) -> None:
        super().__init__(message)
        self.existing = existing


class AlreadyAvailableError(ConflictError):
    """The work is in a library already (409 ``already_available``): ``source``/``item_id``."""

    code = "already_available"

    def __init__(self, message: str, *, source: str, item_id: str) -> None:
        super().__init__(message)
        self.source = source
        self.item_id = item_id


class InvalidTransitionError(ConflictError):
    """The action does not apply to the request as it stands (approving a declined one)."""

    code = "invalid_transition"


class NoRequestBackendError(MediaNestError):
    """The hub has no request backend to send requests to (503 ``no_request_backend``)."""

    code = "no_request_backend"


class RequestNotSavedError(MediaNestError):
    """The hub could not keep its copy of a request; the backend's copy was withdrawn so that
    nothing is left half-saved (503 ``request_not_saved``)."""

    code = "request_not_saved"
