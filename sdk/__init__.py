"""The MediaNest SDK: everything a plugin may import.

Plugins import from ``medianest.sdk`` (and its submodules) only, never from
``medianest.core``. The contract is versioned by :data:`API_VERSION`; a change that breaks
plugins bumps it.
"""

from medianest.sdk.access import Permission, public, requires, signed_in
from medianest.sdk.demo import Demo, DemoSetup
from medianest.sdk.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    MediaNestError,
    NotFoundError,
    PermissionDeniedError,
    PluginError,
    RateLimitedError,
    UpstreamAuthError,
    UpstreamDataError,
    UpstreamError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from medianest.sdk.flags import Flag
from medianest.sdk.jobs import Cron, Job, JobContext, RetryJob
from medianest.sdk.markers import hookimpl
from medianest.sdk.models import (
    AuthChallenge,
    ChangesPage,
    DomainEvent,
    ExternalIds,
    HealthStatus,
    Identity,
    Image,
    MediaItem,
    MediaKind,
    MediaRequest,
    MediaRequestCreate,
    Notification,
    Page,
    Principal,
    RequestStatus,
    SearchQuery,
    SourceRef,
    decode_cursor,
    encode_cursor,
    utcnow,
)
from medianest.sdk.persistence import DatabaseModels
from medianest.sdk.providers import (
    AnalyticsSink,
    AuthProvider,
    MediaSource,
    Notifier,
    Provider,
    RequestBackend,
    SourceCapability,
)
from medianest.sdk.services import (
    Cache,
    FlagReader,
    HubContext,
    JobHandle,
    JobQueue,
    PubSub,
    RateLimiter,
    RateLimitResult,
)
from medianest.sdk.settings import PluginSettings
from medianest.sdk.web import current_hub, current_principal

API_VERSION = 1
"""The version of the plugin contract."""

__all__ = [
    "API_VERSION",
    "AnalyticsSink",
    "AuthChallenge",
    "AuthProvider",
    "AuthenticationError",
    "Cache",
    "ChangesPage",
    "ConfigurationError",
    "ConflictError",
    "Cron",
    "DatabaseModels",
    "Demo",
    "DemoSetup",
    "DomainEvent",
    "ExternalIds",
    "Flag",
    "FlagReader",
    "HealthStatus",
    "HubContext",
    "Identity",
    "Image",
    "InvalidInputError",
    "Job",
    "JobContext",
    "JobHandle",
    "JobQueue",
    "MediaItem",
    "MediaKind",
    "MediaNestError",
    "MediaRequest",
    "MediaRequestCreate",
    "MediaSource",
    "NotFoundError",
    "Notification",
    "Notifier",
    "Page",
    "Permission",
    "PermissionDeniedError",
    "PluginError",
    "PluginSettings",
    "Principal",
    "Provider",
    "PubSub",
    "RateLimitResult",
    "RateLimitedError",
    "RateLimiter",
    "RequestBackend",
    "RequestStatus",
    "RetryJob",
    "SearchQuery",
    "SourceCapability",
    "SourceRef",
    "UpstreamAuthError",
    "UpstreamDataError",
    "UpstreamError",
    "UpstreamRateLimitedError",
    "UpstreamTimeoutError",
    "UpstreamUnreachableError",
    "current_hub",
    "current_principal",
    "decode_cursor",
    "encode_cursor",
    "hookimpl",
    "public",
    "requires",
    "signed_in",
    "utcnow",
]
