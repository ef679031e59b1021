"""API keys: each person manages their own; admins see and revoke anyone's.

A key is used as ``Authorization: Bearer mnk_...`` and acts as its user limited to its
permissions. ``POST /api/v1/me/api-keys`` answers the key itself once (201, never cached);
the hub keeps only a digest, so no later answer can show it again. Lists show the key's
``prefix`` (``mnk_<public id>``), enough to recognise it.

Keys are managed by signed-in people only, never with a key (a leaked key could otherwise
mint successors that outlive its revocation, or revoke its owner's other keys): the ``/me``
routes refuse API keys with a 403 ``api_key_not_allowed``. A key holds only permissions its
creator holds right now. Creating and revoking keys are recorded in the audit log, and so is
every key of a user ended when the user is deactivated.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response
from tortoise.transactions import in_transaction

from medianest.core.auth import api_keys, audit
from medianest.core.db.models import ApiKey, User
from medianest.core.users import ROLE_ADMIN
from medianest.core.web.api_support import (
    PageQuery,
    PermissionName,
    caller,
    known_permission_list,
    page_by_id,
)
from medianest.core.web.text import ShownText
from medianest.sdk.access import Permission, requires, signed_in
from medianest.sdk.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from medianest.sdk.models import Principal

blueprint = Blueprint("api_keys", __name__, url_prefix="/api/v1")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShownText = Field(
        min_length=1,
        max_length=100,
        description="what the key is for (no control or bidirectional formatting characters)",
    )
    permissions: list[PermissionName] = Field(
        min_length=1, max_length=50, description="what the key may do (within your own)"
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="when the key stops working; null: when revoked"
    )


class ApiKeyView(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="the start of the key (mnk_<public id>), to recognise it")
    permissions: list[str]
    created_at: datetime
    last_used_at: datetime | None = Field(description="to the minute")
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool = Field(description="neither revoked nor expired")

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyView:
        """The view of a stored key (never its secret)."""
        expired = row.expires_at is not None and row.expires_at <= datetime.now(UTC)
        return cls(
            id=row.id,
            name=row.name,
            prefix=f"{api_keys.PREFIX}_{row.public_id}",
            permissions=sorted(row.permissions),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            active=row.revoked_at is None and not expired,
        )


class ApiKeyCreated(ApiKeyView):
    key: str = Field(description="the key itself: shown in this answer only, never again")


class ApiKeyList(BaseModel):
    items: list[ApiKeyView]
    total: int
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


@blueprint.post("/me/api-keys")
@signed_in
@tag(["api keys"])
@validate_request(ApiKeyCreate)
@validate_response(ApiKeyCreated, 201)
async def create_key(data: ApiKeyCreate) -> tuple[ApiKeyCreated, int, dict[str, str]]:
    """Create an API key for yourself; the answer is the only time the key is shown."""
    issued = await issue_own_key(caller(), data)
    body = ApiKeyCreated(**ApiKeyView.of(issued.row).model_dump(), key=issued.key)
    return body, 201, {"Cache-Control": "no-store"}


async def issue_own_key(principal: Principal, data: ApiKeyCreate) -> api_keys.IssuedKey:
    """Issue ``principal`` a key as ``data`` asks, audited (the API's and the page's rule).

    :raises InvalidInputError: a blank name, or an expiry in the past (naming the field).
    :raises PermissionDeniedError: the key would hold a permission its owner lacks.
    """
    name = data.name.strip()
    if not name:
        raise InvalidInputError("the name must not be blank", field="name")
    if data.expires_at is not None and data.expires_at <= datetime.now(UTC):
        raise InvalidInputError("expires_at must be in the future", field="expires_at")
    permissions = known_permission_list(data.permissions)
    beyond = [p for p in permissions if not principal.has(p)]
    if beyond:
        raise PermissionDeniedError(
            f"a key cannot hold permissions you do not have: {', '.join(beyond)}",
            permission=beyond[0],
        )
    user = await User.get(id=principal.user_id)
    async with in_transaction():  # the key exists only with its audit line
        issued = await api_keys.issue(
            user, name=name, permissions=permissions, expires_at=data.expires_at
        )
        await audit.record(
            "api_key.created",
            actor=principal,
            target=f"user:{user.id}",
            details={
                "key_id": issued.row.id,
                "name": name,
                "permissions": permissions,
                "expires_at": data.expires_at.isoformat() if data.expires_at else None,
            },
        )
    return issued


@blueprint.get("/me/api-keys")
@signed_in
@tag(["api keys"])
@validate_querystring(PageQuery)
@validate_response(ApiKeyList)
async def list_my_keys(query_args: PageQuery) -> ApiKeyList:
    """Your API keys, newest first, revoked and expired ones included (never the keys)."""
    return await keys_of(caller().user_id, query_args)


@blueprint.delete("/me/api-keys/<int:key_id>")
@signed_in
@tag(["api keys"])
@validate_response(ApiKeyView)
async def revoke_my_key(key_id: int) -> ApiKeyView:
    """Revoke one of your API keys; it stops working at once (revoking twice is harmless)."""
    principal = caller()
    return await revoke_key(principal, principal.user_id, key_id)


@blueprint.get("/users/<int:user_id>/api-keys")
@requires(Permission.MANAGE_USERS)
@tag(["api keys", "users"])
@validate_querystring(PageQuery)
@validate_response(ApiKeyList)
async def list_user_keys(user_id: int, query_args: PageQuery) -> ApiKeyList:
    """A user's API keys, newest first (never the keys)."""
    await _user(user_id)
    return await keys_of(user_id, query_args)


@blueprint.delete("/users/<int:user_id>/api-keys/<int:key_id>")
@requires(Permission.MANAGE_USERS)
@tag(["api keys", "users"])
@validate_response(ApiKeyView)
async def revoke_user_key(user_id: int, key_id: int) -> ApiKeyView:
    """Revoke a user's API key (only admins revoke an admin's keys)."""
    return await revoke_users_key(caller(), user_id, key_id)


async def revoke_users_key(principal: Principal, user_id: int, key_id: int) -> ApiKeyView:
    """``principal`` (holding ``manage_users``) revokes a key of user ``user_id``.

    :raises PermissionDeniedError: the owner is an admin and ``principal`` is not.
    :raises NotFoundError: no such user or key.
    """
    owner = await _user(user_id)
    if owner.role == ROLE_ADMIN and principal.role != ROLE_ADMIN:
        raise PermissionDeniedError("only admins can change an admin's account")
    return await revoke_key(principal, user_id, key_id)


async def keys_of(user_id: int, page: PageQuery) -> ApiKeyList:
    """A page of ``user_id``'s API keys, newest first."""
    rows, total, following = await page_by_id(
        ApiKey.filter(user_id=user_id), page, newest_first=True
    )
    return ApiKeyList(items=[ApiKeyView.of(r) for r in rows], total=total, next_cursor=following)


async def revoke_key(principal: Principal, user_id: int, key_id: int) -> ApiKeyView:
    row = await ApiKey.get_or_none(id=key_id, user_id=user_id)
    if row is None:
        raise NotFoundError(f"no API key {key_id} of user {user_id}")
    if row.revoked_at is None:
        async with in_transaction():
            await api_keys.revoke(row)
            await audit.record(
                "api_key.revoked",
                actor=principal,
                target=f"user:{user_id}",
                details={"key_id": row.id, "name": row.name},
            )
    return ApiKeyView.of(row)


async def _user(user_id: int) -> User:
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise NotFoundError(f"no user with id {user_id}")
    return user
