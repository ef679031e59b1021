"""Media requests in core: the service, what it takes and gives, and its errors.

See :mod:`medianest.core.requests.service` for the rules, ``docs/requests.md`` for the flow.
"""

from medianest.core.requests.errors import (
    AlreadyAvailableError,
    AlreadyRequestedError,
    InvalidTransitionError,
    NoRequestBackendError,
    QuotaExceededError,
    RequestNotSavedError,
)
from medianest.core.requests.locks import Locks
from medianest.core.requests.service import SYSTEM, RequestService
from medianest.core.requests.views import (
    ACTIONS,
    DELETED,
    KINDS,
    OPEN_STATUSES,
    STATUSES,
    Action,
    Created,
    Kind,
    Person,
    Quota,
    RequestAsk,
    RequestPage,
    RequestQuery,
    RequestSummary,
    RequestView,
)

__all__ = [
    "ACTIONS",
    "DELETED",
    "KINDS",
    "OPEN_STATUSES",
    "STATUSES",
    "SYSTEM",
    "Action",
    "AlreadyAvailableError",
    "AlreadyRequestedError",
    "Created",
    "InvalidTransitionError",
    "Kind",
    "Locks",
    "NoRequestBackendError",
    "Person",
    "Quota",
    "QuotaExceededError",
    "RequestAsk",
    "RequestNotSavedError",
    "RequestPage",
    "RequestQuery",
    "RequestService",
    "RequestSummary",
    "RequestView",
]
