"""Core's tables (app label ``core``; every table name starts with ``core_``).

Each change here ships with a migration in :mod:`medianest.core.db.migrations`, written by
``python -m tortoise -c medianest.core.db.config.TORTOISE_ORM makemigrations core``.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class RuntimeFlagValue(Model):
    """A flag value an admin set. Unset flags use their default."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)
    enabled = fields.BooleanField()
    updated_at = fields.DatetimeField()
    updated_by = fields.CharField(max_length=200, null=True)

    class Meta:
        app = "core"
        table = "core_runtime_flag_value"


class User(Model):
    """A person who signed in at least once, through any sign-in method.

    ``role`` is ``admin`` or ``user``. ``permissions`` lists what a ``user`` may do, or is null
    for the default set (admins may do everything). A deactivated user (``is_active`` false)
    is refused at sign-in and loses their sessions. ``username`` is unique on the hub.
    ``password_hash`` (argon2id) is set for local accounts only. ``locale`` is the language
    the person chose for the pages (``fr``), or null for their browser's.
    """

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=150, unique=True)
    display_name = fields.CharField(max_length=200, null=True)
    email = fields.CharField(max_length=320, null=True)
    avatar_url = fields.CharField(max_length=2000, null=True)
    role = fields.CharField(max_length=16, default="user")
    permissions: list[str] | None = fields.JSONField(null=True)
    is_active = fields.BooleanField(default=True)
    password_hash = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_sign_in_at = fields.DatetimeField(null=True)
    locale = fields.CharField(max_length=16, null=True)

    identities: fields.ReverseRelation[ExternalIdentity]
    sessions: fields.ReverseRelation[Session]
    api_keys: fields.ReverseRelation[ApiKey]

    class Meta:
        app = "core"
        table = "core_user"


class ExternalIdentity(Model):
    """Who a user is to one sign-in method: a Plex account, say.

    ``credentials_encrypted`` is what the provider needs on the person's behalf (a Plex
    token), encrypted with the hub's ``SecretBox``; never stored in clear.
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "core.User", related_name="identities", on_delete=fields.CASCADE
    )
    provider = fields.CharField(max_length=100)
    external_id = fields.CharField(max_length=255)
    credentials_encrypted: fields.Field[str | None] = fields.TextField(null=True)  # type: ignore[assignment]  # nullable
    attributes: dict[str, Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        app = "core"
        table = "core_external_identity"
        unique_together = (("provider", "external_id"),)


class Session(Model):
    """One signed-in device: a family of rotating refresh tokens.

    Revoking it (sign-out, "sign out everywhere", an admin, a replayed refresh token) ends
    every token of the family at once.
    """

    id = fields.CharField(max_length=36, primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "core.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: int
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    revoked_reason = fields.CharField(max_length=100, null=True)
    ip = fields.CharField(max_length=64, null=True)
    user_agent = fields.CharField(max_length=500, null=True)
    refresh_tokens: fields.ReverseRelation[RefreshToken]

    class Meta:
        app = "core"
        table = "core_session"


class RefreshToken(Model):
    """A refresh token of a session, stored as its SHA-256 digest.

    Each use spends it (``used_at``) and issues the next. Presenting a spent one again is a
    replay and revokes the whole session.
    """

    digest = fields.CharField(max_length=64, primary_key=True)
    session: fields.ForeignKeyRelation[Session] = fields.ForeignKeyField(
        "core.Session", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        app = "core"
        table = "core_refresh_token"


class ApiKey(Model):
    """A user's API key, scoped to some of the user's permissions, shown once, stored hashed.

    The key reads ``mnk_<public_id>_<secret>``. The ``public_id`` finds the row and the secret
    is checked against ``secret_digest`` (SHA-256, as the secret is long and random).
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "core.User", related_name="api_keys", on_delete=fields.CASCADE
    )
    user_id: int
    public_id = fields.CharField(max_length=32, unique=True)
    secret_digest = fields.CharField(max_length=64)
    name = fields.CharField(max_length=100)
    permissions: list[str] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        app = "core"
        table = "core_api_key"


class AuditEvent(Model):
    """An admin action or security event: who did what to whom, from where, with what outcome."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(auto_now_add=True, db_index=True)
    action = fields.CharField(max_length=100, db_index=True)
    outcome = fields.CharField(max_length=16, default="success")
    actor_user_id = fields.IntField(null=True, db_index=True)
    actor = fields.CharField(max_length=200, null=True)
    target = fields.CharField(max_length=200, null=True)
    ip = fields.CharField(max_length=64, null=True)
    details: dict[str, Any] = fields.JSONField(default=dict)

    class Meta:
        app = "core"
        table = "core_audit_event"


class LibraryItem(Model):
    """One item of one media source's library, as the last sync saw it: the catalogue.

    ``(source, item_id)`` is unique. External ids are indexed for matching across sources,
    ``parent_id`` is the parent's ``item_id`` in the same source (episode to season, season
    to show). ``data`` is the whole item as the source gave it, ``content_hash`` its digest:
    a sync rewrites a row only when the digest changes. The title is searchable (PostgreSQL
    full-text and trigram indexes, SQLite FTS5), see migration 0004.
    """

    id = fields.BigIntField(primary_key=True)
    source = fields.CharField(max_length=100)
    item_id = fields.CharField(max_length=255)
    kind = fields.CharField(max_length=16)
    title = fields.TextField()
    year = fields.IntField(null=True)
    parent_id = fields.CharField(max_length=255, null=True)
    number = fields.IntField(null=True)
    imdb = fields.CharField(max_length=16, null=True)
    tmdb = fields.IntField(null=True)
    tvdb = fields.IntField(null=True)
    youtube = fields.CharField(max_length=64, null=True)
    added_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(null=True)
    synced_at = fields.DatetimeField()
    content_hash = fields.CharField(max_length=32)
    data: dict[str, Any] = fields.JSONField()

    class Meta:
        app = "core"
        table = "core_library_item"
        unique_together = (("source", "item_id"),)
        indexes = (("source", "kind"), ("source", "parent_id"), ("source", "added_at"))


class MediaOverride(Model):
    """An admin's correction of one catalogue item, kept apart from what syncs write.

    Each column left ``NULL`` keeps the source's value. Syncs re-apply the title, year and
    external ids to the catalogue row after writing it (so search and matching see them);
    the summary and poster are laid over the item when it is read.
    """

    id = fields.BigIntField(primary_key=True)
    source = fields.CharField(max_length=100)
    item_id = fields.CharField(max_length=255)
    title = fields.TextField(null=True)
    year = fields.IntField(null=True)
    summary = fields.TextField(null=True)
    imdb = fields.CharField(max_length=16, null=True)
    tmdb = fields.IntField(null=True)
    tvdb = fields.IntField(null=True)
    poster_url = fields.TextField(null=True)
    updated_at = fields.DatetimeField()
    updated_by = fields.CharField(max_length=200, null=True)

    class Meta:
        app = "core"
        table = "core_media_override"
        unique_together = (("source", "item_id"),)


class SyncRun(Model):
    """One sync of one media source: what started it, how far it got, what it changed.

    ``status`` goes ``queued`` → ``running`` → ``succeeded`` or ``failed``; at most one run
    per source is queued or running (a partial unique index, migration 0004). The worker
    running it holds a lease (``owner``, renewed in ``heartbeat_at``). A run whose lease
    lapsed (its worker died) is taken over and resumed from ``cursor``, the position after
    the last committed batch. ``since`` is where an incremental run started, ``checkpoint``
    where the next one starts once this one succeeded.
    """

    id = fields.BigIntField(primary_key=True)
    source = fields.CharField(max_length=100)
    kind = fields.CharField(max_length=16)
    trigger = fields.CharField(max_length=16)
    requested_by = fields.CharField(max_length=200, null=True)
    status = fields.CharField(max_length=16, default="queued")
    created_at = fields.DatetimeField()
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    heartbeat_at = fields.DatetimeField()
    owner = fields.CharField(max_length=64, null=True)
    attempts = fields.IntField(default=0)
    pages = fields.IntField(default=0)
    items_seen = fields.IntField(default=0)
    inserted = fields.IntField(default=0)
    updated = fields.IntField(default=0)
    deleted = fields.IntField(default=0)
    errors = fields.IntField(default=0)
    total = fields.IntField(null=True)
    cursor: fields.Field[str | None] = fields.TextField(null=True)  # type: ignore[assignment]  # nullable
    since: fields.Field[str | None] = fields.TextField(null=True)  # type: ignore[assignment]  # nullable
    checkpoint = fields.TextField(null=True)
    error = fields.TextField(null=True)

    class Meta:
        app = "core"
        table = "core_sync_run"
        indexes = (("source", "status", "finished_at"),)


class MediaRequest(Model):
    """A person's request for a film or a show, as the hub keeps it beside its backend's copy.

    ``backend`` is the request backend's provider id (``overseerr:home``) and ``remote_id``
    the request's id there; the pair is unique among requests not deleted (migration 0007).
    The local row is written only once the backend holds the request (and removed again if
    the backend's copy cannot be kept), so the two never drift apart. External ids are
    indexed for lookups by id (search hits, media details, syncs finding the title); a partial
    unique index keeps one *open* request per work (kind + TMDB id). ``seasons`` is a list of
    season numbers (shows; empty: every season), null for films. ``status`` is ``pending``,
    ``approved``, ``declined``, ``processing``, ``available``, ``failed`` or ``deleted``
    (kept for history; no longer open). ``location_source``/``location_item_id`` say where
    the title was found once available.
    """

    id = fields.BigIntField(primary_key=True)
    backend = fields.CharField(max_length=100)
    remote_id = fields.CharField(max_length=100)
    kind = fields.CharField(max_length=16)
    tmdb_id = fields.IntField(null=True)
    imdb_id = fields.CharField(max_length=16, null=True)
    tvdb_id = fields.IntField(null=True)
    title: fields.Field[str | None] = fields.TextField(null=True)  # type: ignore[assignment]  # nullable
    year = fields.IntField(null=True)
    seasons: list[int] | None = fields.JSONField(null=True)
    status = fields.CharField(max_length=16, default="pending")
    reason: fields.Field[str | None] = fields.TextField(null=True)  # type: ignore[assignment]  # nullable
    requested_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "core.User", related_name="requests", on_delete=fields.CASCADE
    )
    requested_by_id: int
    decided_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "core.User", related_name="decided_requests", null=True, on_delete=fields.SET_NULL
    )
    decided_by_id: int | None
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)
    available_at = fields.DatetimeField(null=True)
    location_source = fields.CharField(max_length=100, null=True)
    location_item_id = fields.CharField(max_length=255, null=True)

    interests: fields.ReverseRelation[MediaRequestInterest]

    class Meta:
        app = "core"
        table = "core_request"
        indexes = (("requested_by_id", "kind", "created_at"), ("status", "id"))


class MediaRequestInterest(Model):
    """Someone who wants a requested title too (the requester, and whoever asked again):
    everyone here hears about the request's changes."""

    id = fields.BigIntField(primary_key=True)
    request: fields.ForeignKeyRelation[MediaRequest] = fields.ForeignKeyField(
        "core.MediaRequest", related_name="interests", on_delete=fields.CASCADE
    )
    request_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "core.User", related_name="request_interests", on_delete=fields.CASCADE
    )
    user_id: int
    created_at = fields.DatetimeField()

    class Meta:
        app = "core"
        table = "core_request_interest"
        unique_together = (("request", "user"),)


class RequestQuotaOverride(Model):
    """An admin's quota for one person and one kind (``movie`` or ``show``), in place of the
    settings' default: at most ``limit`` requests per ``days`` days (``limit`` 0: unlimited)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "core.User", related_name="request_quotas", on_delete=fields.CASCADE
    )
    user_id: int
    kind = fields.CharField(max_length=16)
    limit = fields.IntField()
    days = fields.IntField()
    updated_at = fields.DatetimeField()
    updated_by = fields.CharField(max_length=200, null=True)

    class Meta:
        app = "core"
        table = "core_request_quota"
        unique_together = (("user", "kind"),)


class Notification(Model):
    """One notification in a person's inbox (``core_notification``).

    ``group_key`` joins notifications of one kind about one thing (an event type and its
    request or parent item): within the grouping window a new one raises ``count`` of the
    unread row instead of adding another. ``read_at`` is null while unread.
    """

    id = fields.BigIntField(primary_key=True)
    user_id = fields.IntField()
    event_type = fields.CharField(max_length=200)
    title = fields.CharField(max_length=300)
    body = fields.TextField(default="")
    link = fields.CharField(max_length=2000, null=True)
    image = fields.CharField(max_length=2000, null=True)
    data: dict[str, Any] = fields.JSONField(default=dict)
    group_key = fields.CharField(max_length=400, null=True)
    count = fields.IntField(default=1)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    read_at = fields.DatetimeField(null=True)

    class Meta:
        app = "core"
        table = "core_notification"
        indexes = (("user_id", "read_at"), ("user_id", "group_key"))


class NotificationDelivery(Model):
    """One delivery of one notification by one notifier to one recipient.

    ``key`` is unique: queuing the same delivery twice finds the row already there. A worker
    claims a row (``status`` ``sending``, ``lease_until``) before sending; a row ``sent`` is
    never sent again; a claim whose lease lapsed (its worker died) is taken over. ``status``:
    ``pending`` → ``sending`` → ``sent``, or ``dead`` (tries exhausted or a permanent error,
    ``last_error`` says which) → ``pending`` again when an admin retries it, or ``discarded``.
    ``payload`` is the notification as the notifier gets it, ``address`` the destination,
    encrypted at rest.
    """

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=255, unique=True)
    notifier = fields.CharField(max_length=100)
    user_id = fields.IntField(null=True)
    role = fields.CharField(max_length=16, null=True)
    event_type = fields.CharField(max_length=200)
    address = fields.TextField(null=True)
    destination = fields.CharField(max_length=64)
    payload: dict[str, Any] = fields.JSONField()
    status = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    not_before = fields.DatetimeField(null=True)
    lease_until = fields.DatetimeField(null=True)
    owner = fields.CharField(max_length=64, null=True)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        app = "core"
        table = "core_notification_delivery"
        indexes = (("status", "updated_at"),)


class NotificationChannel(Model):
    """A person's destination of one address kind (``apprise``, ``webhook``, ``email``...),
    encrypted at rest; ``masked`` is what the pages show of it."""

    id = fields.IntField(primary_key=True)
    user_id = fields.IntField()
    kind = fields.CharField(max_length=100)
    address = fields.TextField()
    masked = fields.CharField(max_length=300)
    updated_at = fields.DatetimeField()

    class Meta:
        app = "core"
        table = "core_notification_channel"
        unique_together = (("user_id", "kind"),)


class NotificationPreference(Model):
    """What a person wants to hear of, where, and when not (``scope`` ``user:<id>``), or the
    defaults admins set for everyone who chose nothing (``scope`` ``defaults``)."""

    id = fields.IntField(primary_key=True)
    scope = fields.CharField(max_length=50, unique=True)
    settings: dict[str, Any] = fields.JSONField()
    updated_at = fields.DatetimeField()

    class Meta:
        app = "core"
        table = "core_notification_preference"


__models__ = [
    RuntimeFlagValue,
    User,
    ExternalIdentity,
    Session,
    RefreshToken,
    ApiKey,
    AuditEvent,
    LibraryItem,
    MediaOverride,
    SyncRun,
    MediaRequest,
    MediaRequestInterest,
    RequestQuotaOverride,
    Notification,
    NotificationDelivery,
    NotificationChannel,
    NotificationPreference,
]
