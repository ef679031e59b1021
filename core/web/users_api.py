"""Managing users (permission ``manage_users``): list and search, read, change.

``PATCH /api/v1/users/{id}`` sets a user's role, permissions or whether they are active:

- unknown permissions are a 400 naming them;
- only admins change roles or an admin's account, and nobody grants a permission they do not
  hold themselves (403);
- a change that would leave the hub without an active admin (demoting or deactivating the
  last one, oneself included) is a 409; concurrent changes are serialised on the admin rows so
  two admins cannot demote each other at once;
- deactivating revokes every session and every API key of the user at once, for good:
  reactivating restores the account, not its old sessions or keys (each revoked key is
  recorded in the audit log);
- each change applies from the user's next request on, on every replica;
- each change is recorded in the audit log with its before and after.
- each change is announced to the person's open pages (their live topic ``me``: see
  :mod:`medianest.core.web.live`).
"""

from __future__ import annotations

from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema
from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from medianest.core.auth import api_keys, audit
from medianest.core.auth.principals import effective_permissions
from medianest.core.db.models import ApiKey, User
from medianest.core.events import publish_to_person
from medianest.core.users import ROLE_ADMIN, ROLE_USER
from medianest.core.web import context
from medianest.core.web.api_support import (
    PageQuery,
    PermissionName,
    caller,
    known_permission_list,
    page_by_id,
)
from medianest.core.web.signin_schemas import SignedInUser
from medianest.sdk.access import USER_PERMISSIONS, Permission, requires
from medianest.sdk.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from medianest.sdk.models import Principal
from medianest.sdk.web import PROBLEM_JSON, responds

blueprint = Blueprint("users_admin", __name__, url_prefix="/api/v1")

ACCOUNT_CHANGED = "account.changed"
"""Type of the message a person's live topic (``me``) gets when an admin changes their account."""
log = structlog.get_logger(__name__)
LAST_ADMIN = "the hub would be left without an active admin; make another user an admin first"


class UserQuery(PageQuery):
    q: str | None = Field(
        default=None, min_length=1, max_length=150, description="part of the username or e-mail"
    )
    role: Literal["admin", "user"] | None = None
    active: bool | None = Field(
        default=None, description="true: active users only; false: deactivated ones only"
    )


class UserView(SignedInUser):
    """A user as admins see them: the signed-in view plus rights, state and sign-in methods."""

    permissions: list[str] = Field(description="granted to the user (admins hold every one)")
    effective_permissions: list[str] = Field(description="what the user may do right now")
    is_active: bool
    sign_in_methods: list[str] = Field(description="the auth providers the user signs in with")

    @classmethod
    def of(cls, user: User) -> UserView:
        """The view of ``user`` (with its ``identities`` fetched)."""
        return cls(
            **SignedInUser.of(user).model_dump(),
            permissions=granted(user),
            effective_permissions=sorted(str(p) for p in effective_permissions(user)),
            is_active=user.is_active,
            sign_in_methods=sorted({link.provider for link in user.identities}),
        )


class UserList(BaseModel):
    items: list[UserView]
    total: int = Field(description="users matching the filters, on every page")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


class UserChange(BaseModel):
    """What to change: at least one of the fields; a field left out stays as it is."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    role: Literal["admin", "user"] | SkipJsonSchema[None] = None
    permissions: list[PermissionName] | SkipJsonSchema[None] = Field(
        default=None, max_length=50, description="replaces the granted permissions"
    )
    is_active: bool | SkipJsonSchema[None] = Field(
        default=None, description="false deactivates the user"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = sorted(str(name) for name, value in data.items() if value is None)
            if nulls:
                raise ValueError(f"leave out what stays as it is instead of null: {nulls}")
        return data


@blueprint.get("/users")
@requires(Permission.MANAGE_USERS)
@tag(["users"])
@validate_querystring(UserQuery)
@validate_response(UserList)
async def list_users(query_args: UserQuery) -> UserList:
    """Users, oldest first, searched by username or e-mail and filtered by role and state."""
    return await find_users(query_args)


async def find_users(query_args: UserQuery) -> UserList:
    """The page of users ``query_args`` asks for (the admin pages list the same)."""
    query = User.all()
    if query_args.q:
        query = query.filter(Q(username__icontains=query_args.q) | Q(email__icontains=query_args.q))
    if query_args.role is not None:
        query = query.filter(role=query_args.role)
    if query_args.active is not None:
        query = query.filter(is_active=query_args.active)
    rows, total, following = await page_by_id(
        query.prefetch_related("identities"), query_args, newest_first=False
    )
    return UserList(items=[UserView.of(u) for u in rows], total=total, next_cursor=following)


@blueprint.get("/users/<int:user_id>")
@requires(Permission.MANAGE_USERS)
@tag(["users"])
@validate_response(UserView)
async def get_user(user_id: int) -> UserView:
    """One user."""
    return UserView.of(await user_or_404(user_id))


@blueprint.patch("/users/<int:user_id>")
@requires(Permission.MANAGE_USERS)
@tag(["users"])
@validate_request(UserChange)
@validate_response(UserView)
@responds(409, LAST_ADMIN, media_type=PROBLEM_JSON)
async def update_user(user_id: int, data: UserChange) -> UserView:
    """Set a user's role, permissions or active state (see the rules in the module)."""
    return await change_user(caller(), user_id, data)


async def change_user(actor: Principal, user_id: int, data: UserChange) -> UserView:
    """Apply ``actor``'s change of user ``user_id`` under the rules of the module (the admin
    pages' form does the same).

    :raises InvalidInputError: nothing to change, or unknown permissions.
    :raises PermissionDeniedError: beyond what ``actor`` may do.
    :raises ConflictError: it would leave the hub without an active admin.
    :raises NotFoundError: no such user.
    """
    if data.role is None and data.permissions is None and data.is_active is None:
        raise InvalidInputError("nothing to change: give role, permissions or is_active")
    permissions = None if data.permissions is None else known_permission_list(data.permissions)
    before, after, ended_keys = await _apply(user_id, data, permissions, actor)
    if after != before:
        await context.hub().sessions.users.changed(user_id)
    revoked = None
    if before.is_active and not after.is_active:
        revoked = await context.hub().sessions.revoke_all(
            user_id, reason="user_deactivated", actor=actor
        )
    await _record(actor, user_id, before, after, sessions_revoked=revoked, keys_revoked=ended_keys)
    if after != before:
        await _tell_the_person(user_id, after)
    return UserView.of(await user_or_404(user_id))


async def _tell_the_person(user_id: int, after: _Snapshot) -> None:
    """Announce the change on the person's own live topic (their open pages can follow it)."""
    message = {
        "type": ACCOUNT_CHANGED,
        "role": after.role,
        "permissions": after.permissions,
        "is_active": after.is_active,
    }
    try:
        await publish_to_person(context.hub().pubsub, user_id, message)
    except Exception as exc:  # the change is stored; the news is best effort
        log.warning("account change not announced", user_id=user_id, error=str(exc))


async def user_or_404(user_id: int) -> User:
    """The user ``user_id`` with their identities.

    :raises NotFoundError: no such user.
    """
    user = await User.get_or_none(id=user_id).prefetch_related("identities")
    if user is None:
        raise NotFoundError(f"no user with id {user_id}")
    return user


def granted(user: User) -> list[str]:
    """The permissions granted to ``user``, sorted (a user's defaults when none are stored)."""
    if user.permissions is None:
        return sorted(str(p) for p in USER_PERMISSIONS)
    return sorted(user.permissions)


class _Snapshot(BaseModel):
    username: str
    role: str
    permissions: list[str]
    is_active: bool

    @classmethod
    def of(cls, user: User) -> _Snapshot:
        return cls(
            username=user.username,
            role=user.role,
            permissions=granted(user),
            is_active=user.is_active,
        )


async def _apply(
    user_id: int, data: UserChange, permissions: list[str] | None, actor: Principal
) -> tuple[_Snapshot, _Snapshot, list[ApiKey]]:
    """Change the user in one transaction; return the user before and after, and the API keys
    revoked with it (all of a user being deactivated).

    Active admins' rows are locked first (in id order) when the change could remove an
    admin, then the target's, so concurrent changes are checked one after the other.
    """
    may_remove_admin = data.role == ROLE_USER or data.is_active is False
    admins: list[User] = []
    async with in_transaction() as connection:
        if may_remove_admin:
            admins = (
                await User.filter(role=ROLE_ADMIN, is_active=True)
                .order_by("id")
                .select_for_update()
                .using_db(connection)
            )
        user = await User.filter(id=user_id).select_for_update().using_db(connection).first()
        if user is None:
            raise NotFoundError(f"no user with id {user_id}")
        before = _Snapshot.of(user)
        _authorise(actor, user, data, permissions)
        if data.role is not None:
            user.role = data.role
        if permissions is not None:
            user.permissions = permissions
        if data.is_active is not None:
            user.is_active = data.is_active
        after = _Snapshot.of(user)
        if may_remove_admin and before.role == ROLE_ADMIN and before.is_active:
            still_admin = after.role == ROLE_ADMIN and after.is_active
            if not still_admin and not [a for a in admins if a.id != user.id]:
                raise ConflictError(LAST_ADMIN)
        if after != before:
            await user.save(using_db=connection, update_fields=["role", "permissions", "is_active"])
        ended_keys = []
        if before.is_active and not after.is_active:
            ended_keys = await api_keys.revoke_all(user.id, using_db=connection)
    return before, after, ended_keys


async def _record(
    actor: Principal,
    user_id: int,
    before: _Snapshot,
    after: _Snapshot,
    *,
    sessions_revoked: int | None,
    keys_revoked: list[ApiKey],
) -> None:
    """One audit event per aspect that changed, with its value before and after, and one per
    API key revoked with a deactivation."""
    target = f"user:{user_id}"
    details = {"username": after.username}
    if before.role != after.role:
        await audit.record(
            "user.role_changed",
            actor=actor,
            target=target,
            details=details | {"before": before.role, "after": after.role},
        )
    if before.permissions != after.permissions:
        added = sorted(set(after.permissions) - set(before.permissions))
        removed = sorted(set(before.permissions) - set(after.permissions))
        await audit.record(
            "user.permissions_changed",
            actor=actor,
            target=target,
            details=details
            | {
                "before": before.permissions,
                "after": after.permissions,
                "added": added,
                "removed": removed,
            },
        )
    if before.is_active and not after.is_active:
        await audit.record(
            "user.deactivated",
            actor=actor,
            target=target,
            details=details
            | {"sessions_revoked": sessions_revoked, "api_keys_revoked": len(keys_revoked)},
        )
        for key in keys_revoked:
            await audit.record(
                "api_key.revoked",
                actor=actor,
                target=target,
                details={"key_id": key.id, "name": key.name, "reason": "user_deactivated"},
            )
    elif after.is_active and not before.is_active:
        await audit.record("user.reactivated", actor=actor, target=target, details=details)


def _authorise(
    actor: Principal, user: User, data: UserChange, permissions: list[str] | None
) -> None:
    """Refuse changes beyond what ``actor`` may do, even holding ``manage_users``.

    :raises PermissionDeniedError: a role change or a change to an admin by a non-admin, or
        granting a permission the actor lacks (named).
    """
    if actor.role == ROLE_ADMIN:
        return
    if data.role is not None and data.role != user.role:
        raise PermissionDeniedError("only admins can change roles")
    if user.role == ROLE_ADMIN:
        raise PermissionDeniedError("only admins can change an admin's account")
    if permissions is not None:
        lacking = sorted(set(permissions) - set(granted(user)) - set(actor.permissions))
        if lacking:
            raise PermissionDeniedError(
                f"you cannot grant permissions you do not hold: {', '.join(lacking)}",
                permission=lacking[0],
            )
