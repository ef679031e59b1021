"""The admin area (``/admin/...``): users and their API keys, plugins, runtime flags, sources
and syncs, the audit log.

Each page declares the permission of the API route it mirrors (``manage_users``,
``manage_settings``, ``run_syncs``, ``view_audit``), so the guard applies the very rule the
API does, and each calls the function behind that route: a change made here is validated,
authorised and audited exactly as through the API. Forms post with the session's CSRF token
and come back to their page (post, redirect, get); a refusal (a rule of the users API, say)
is shown on the page that made it. The syncs page follows sync progress live over
``/api/v1/live`` (``static/admin-syncs.js``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from quart import Response, redirect, request, url_for
from quart.typing import ResponseTypes

from medianest.core.db.models import ApiKey, User
from medianest.core.web import context
from medianest.core.web.api_keys_api import ApiKeyView, keys_of, revoke_users_key
from medianest.core.web.api_support import PageQuery, page_by_id
from medianest.core.web.audit_api import AuditQuery, audit_events
from medianest.core.web.flags_api import switch_flag
from medianest.core.web.health import check_sources
from medianest.core.web.pages import i18n
from medianest.core.web.pages.i18n import N_
from medianest.core.web.pages.shell import page_blueprint, render_page
from medianest.core.web.sync_api import run_list, source_list, start_sync
from medianest.core.web.sync_schemas import SyncRunQuery
from medianest.core.web.system import flag_list, plugin_list
from medianest.core.web.users_api import (
    UserChange,
    UserQuery,
    change_user,
    find_users,
    user_or_404,
)
from medianest.core.web.users_api import UserView as AdminUserView
from medianest.sdk.access import Permission, requires, signed_in
from medianest.sdk.errors import (
    ConflictError,
    InvalidInputError,
    MediaNestError,
    NotFoundError,
    PermissionDeniedError,
)
from medianest.sdk.models import Principal
from medianest.sdk.web import current_principal

admin_pages = page_blueprint(
    "admin_pages", __name__, template_folder="../templates", url_prefix="/admin"
)

SECTIONS: tuple[tuple[str, str, Permission, str], ...] = (
    (
        "admin_pages.users",
        N_("Users"),
        Permission.MANAGE_USERS,
        N_("Roles, permissions, API keys; deactivate an account."),
    ),
    (
        "admin_pages.api_keys",
        N_("API keys"),
        Permission.MANAGE_USERS,
        N_("Everyone's API keys; revoke one."),
    ),
    (
        "admin_pages.plugins",
        N_("Plugins"),
        Permission.MANAGE_SETTINGS,
        N_("What each plugin provides, its sources' health and circuits."),
    ),
    (
        "admin_pages.flags",
        N_("Runtime flags"),
        Permission.MANAGE_SETTINGS,
        N_("Switch features on and off for every replica."),
    ),
    (
        "admin_pages.syncs",
        N_("Sources and syncs"),
        Permission.RUN_SYNCS,
        N_("Schedules, last runs, start a sync and follow it."),
    ),
    ("admin_pages.audit", N_("Audit log"), Permission.VIEW_AUDIT, N_("Who did what, and when.")),
    (
        "notification_pages.admin",
        N_("Notifications"),
        Permission.MANAGE_SETTINGS,
        N_("Defaults for everyone, notifiers, dead letters."),
    ),
)
"""The admin pages: endpoint, name, the permission it needs, what it is for."""
RUN_WORDS = (
    N_("queued"),
    N_("running"),
    N_("succeeded"),
    N_("failed"),
    N_("full"),
    N_("incremental"),
    N_("admin"),
    N_("user"),
    N_("success"),
    N_("failure"),
)
"""Words the templates translate from data (a run's status and kind, a role, an outcome)."""
USERS_SHOWN = 50
KEYS_SHOWN = 50
RUNS_SHOWN = 20
EVENTS_SHOWN = 50


def _me() -> Principal:
    principal = current_principal()
    assert principal is not None  # every admin page needs a signed-in person
    return principal


def _sections(principal: Principal) -> list[tuple[str, str, Permission, str]]:
    return [section for section in SECTIONS if principal.has(section[2])]


async def _admin_page(template: str, title: str, **values: Any) -> Response:
    return await render_page(template, title=title, sections=_sections(_me()), **values)


def _validated(model: type[BaseModel], args: dict[str, str]) -> tuple[Any, str | None]:
    """``model`` of the query string ``args`` (blank values left out), or the message of
    what is wrong with it."""
    cleaned = {name: value for name, value in args.items() if value.strip()}
    try:
        return model.model_validate(cleaned), None
    except ValidationError as exc:
        return None, "; ".join(
            f"{'.'.join(str(p) for p in problem['loc']) or 'query'}: {problem['msg']}"
            for problem in exc.errors()
        )


async def _filtered_listing(
    endpoint: str,
    filters: Sequence[str],
    model: type[BaseModel],
    shown: int,
    fetch: Callable[[Any], Awaitable[Any]],
    template: str,
    title: str,
) -> Response:
    """A page of what ``fetch`` lists for the query string's ``filters`` (validated by
    ``model``, the API's own query model), with the link to the next page; bad filters are
    shown beside the form with a 422."""
    args = {name: request.args.get(name, "") for name in filters}
    query, error = _validated(model, args | {"limit": str(shown)})
    listing = None
    if query is not None:
        try:
            listing = await fetch(query)
        except MediaNestError as exc:
            error = exc.message
    next_url = None
    if listing is not None and listing.next_cursor:
        base: dict[str, Any] = {k: v for k, v in args.items() if v and k != "cursor"}
        next_url = url_for(endpoint, **base, cursor=listing.next_cursor)
    return await render_page(
        template,
        title=title,
        status=200 if error is None else 422,
        sections=_sections(_me()),
        listing=listing,
        filters=args,
        error=error,
        next_url=next_url,
    )


@admin_pages.get("")
@signed_in
async def admin() -> Response:
    """The admin area's entry: the pages this person may open (none without an admin
    permission; each page checks its own)."""
    return await _admin_page("admin/index.html", i18n.gettext("Admin"))


# -- users ---------------------------------------------------------------------------------


@admin_pages.get("/users")
@requires(Permission.MANAGE_USERS)
async def users() -> Response:
    """Users, searched by name or e-mail, filtered by role and state."""
    return await _filtered_listing(
        "admin_pages.users",
        ("q", "role", "active", "cursor"),
        UserQuery,
        USERS_SHOWN,
        find_users,
        "admin/users.html",
        i18n.gettext("Users"),
    )


@admin_pages.get("/users/<int:user_id>")
@requires(Permission.MANAGE_USERS)
async def user(user_id: int) -> Response:
    """One user: role, permissions, state, and their API keys."""
    return await _user_page(user_id, saved=request.args.get("saved"))


async def _user_page(
    user_id: int, *, error: str | None = None, status: int = 200, saved: str | None = None
) -> Response:
    shown = AdminUserView.of(await user_or_404(user_id))
    keys = await keys_of(user_id, PageQuery(limit=100))
    return await render_page(
        "admin/user.html",
        title=shown.username,
        status=status,
        etag=status == 200 and saved is None,
        sections=_sections(_me()),
        shown=shown,
        keys=keys.items,
        all_permissions=[str(p) for p in Permission],
        error=error,
        saved=saved,
    )


@admin_pages.post("/users/<int:user_id>")
@requires(Permission.MANAGE_USERS)
async def change(user_id: int) -> ResponseTypes:
    """Apply the user form: role, permissions, active; refusals shown on the user's page."""
    form = await request.form
    current = AdminUserView.of(await user_or_404(user_id))
    wanted: dict[str, Any] = {}
    role = form.get("role")
    if role and role != current.role:
        wanted["role"] = role
    permissions = sorted(set(form.getlist("permissions")))
    if "permissions_shown" in form and permissions != sorted(current.permissions):
        wanted["permissions"] = permissions
    active = form.get("is_active") == "on"
    if "active_shown" in form and active != current.is_active:
        wanted["is_active"] = active
    if not wanted:
        return redirect(url_for("admin_pages.user", user_id=user_id), 303)
    try:
        await change_user(_me(), user_id, UserChange.model_validate(wanted))
    except ValidationError as exc:
        return await _user_page(user_id, error=str(exc.errors()[0]["msg"]), status=422)
    except PermissionDeniedError as exc:
        return await _user_page(user_id, error=exc.message, status=403)
    except (ConflictError, InvalidInputError) as exc:
        status = 409 if isinstance(exc, ConflictError) else 422
        return await _user_page(user_id, error=exc.message, status=status)
    return redirect(url_for("admin_pages.user", user_id=user_id, saved="user"), 303)


@admin_pages.post("/users/<int:user_id>/api-keys/<int:key_id>/revoke")
@requires(Permission.MANAGE_USERS)
async def revoke_key(user_id: int, key_id: int) -> ResponseTypes:
    """Revoke one of the user's API keys (only admins revoke an admin's)."""
    try:
        await revoke_users_key(_me(), user_id, key_id)
    except PermissionDeniedError as exc:
        return await _user_page(user_id, error=exc.message, status=403)
    return redirect(url_for("admin_pages.user", user_id=user_id, saved="key"), 303)


@admin_pages.get("/api-keys")
@requires(Permission.MANAGE_USERS)
async def api_keys() -> Response:
    """Everyone's API keys still in force (``all=1``: revoked and expired ones too), newest
    first, with their owner and a button to revoke each."""
    every = request.args.get("all") == "1"
    page, error = _validated(
        PageQuery, {"cursor": request.args.get("cursor", ""), "limit": str(KEYS_SHOWN)}
    )
    rows: list[tuple[ApiKeyView, User]] = []
    total = 0
    next_url = None
    if page is not None:
        query = ApiKey.all() if every else ApiKey.filter(revoked_at__isnull=True)
        try:
            found, total, following = await page_by_id(
                query.prefetch_related("user"), page, newest_first=True
            )
        except InvalidInputError as exc:
            error = exc.message
        else:
            rows = [(ApiKeyView.of(row), row.user) for row in found]
            if following:
                extra: dict[str, Any] = {"all": "1"} if every else {}
                next_url = url_for("admin_pages.api_keys", cursor=following, **extra)
    return await render_page(
        "admin/api_keys.html",
        title=i18n.gettext("API keys"),
        status=200 if error is None else 400,
        sections=_sections(_me()),
        rows=rows,
        total=total,
        every=every,
        error=error or request.args.get("error"),
        next_url=next_url,
    )


@admin_pages.post("/api-keys/<int:key_id>/revoke")
@requires(Permission.MANAGE_USERS)
async def revoke_any_key(key_id: int) -> ResponseTypes:
    """Revoke a key from the list of everyone's keys (the users API's rule: only admins
    revoke an admin's)."""
    row = await ApiKey.get_or_none(id=key_id)
    if row is None:
        raise NotFoundError(f"no API key {key_id}")
    try:
        await revoke_users_key(_me(), row.user_id, key_id)
    except PermissionDeniedError as exc:
        return redirect(url_for("admin_pages.api_keys", error=exc.message), 303)
    return redirect(url_for("admin_pages.api_keys"), 303)


# -- plugins and flags ---------------------------------------------------------------------


@admin_pages.get("/plugins")
@requires(Permission.MANAGE_SETTINGS)
async def plugins() -> Response:
    """Installed plugins: what each provides, its sources' health and search circuits."""
    health = {component.name: component for component in await check_sources(context.hub())}
    return await _admin_page(
        "admin/plugins.html",
        i18n.gettext("Plugins"),
        plugins=plugin_list().items,
        health=health,
    )


@admin_pages.get("/flags")
@requires(Permission.MANAGE_SETTINGS)
async def flags() -> Response:
    """Runtime flags, each with a switch."""
    return await _admin_page(
        "admin/flags.html", i18n.gettext("Runtime flags"), flags=flag_list().items
    )


@admin_pages.post("/flags/<key>")
@requires(Permission.MANAGE_SETTINGS)
async def switch(key: str) -> ResponseTypes:
    """Switch flag ``key`` to the value the form asks for, for every replica."""
    form = await request.form
    wanted = form.get("enabled")
    if key not in {flag.key for flag in flag_list().items}:
        await switch_flag(_me(), key, True)  # refused: 404 naming the known flags
    if wanted not in ("true", "false"):
        raise InvalidInputError('enabled must be "true" or "false"', field="enabled")
    await switch_flag(_me(), key, wanted == "true")
    return redirect(url_for("admin_pages.flags") + f"#flag-{key}", 303)


# -- syncs ---------------------------------------------------------------------------------


@admin_pages.get("/syncs")
@requires(Permission.RUN_SYNCS)
async def syncs() -> Response:
    """Sources with a library: schedule, the active and last runs, buttons to sync; the
    latest runs. Progress arrives live."""
    runs = await run_list(SyncRunQuery(limit=RUNS_SHOWN))
    return await render_page(
        "admin/syncs.html",
        title=i18n.gettext("Sources and syncs"),
        etag=False,  # live data
        sections=_sections(_me()),
        sources=(await source_list()).items,
        runs=runs.items,
        error=request.args.get("error"),
    )


@admin_pages.post("/syncs/<source>")
@requires(Permission.RUN_SYNCS)
async def sync_now(source: str) -> ResponseTypes:
    """Queue a sync of ``source`` (full when the form says so) or join the one going."""
    form = await request.form
    try:
        run, _ = await start_sync(_me(), source, full=form.get("full") == "true")
    except (InvalidInputError, ConflictError) as exc:
        return redirect(url_for("admin_pages.syncs", error=exc.message), 303)
    return redirect(url_for("admin_pages.syncs") + f"#run-{run.id}", 303)


# -- audit ---------------------------------------------------------------------------------

AUDIT_FILTERS = ("action", "actor", "target", "outcome", "since", "until", "cursor")


@admin_pages.get("/audit")
@requires(Permission.VIEW_AUDIT)
async def audit() -> Response:
    """The audit log, newest first, filtered like ``GET /api/v1/audit``."""
    return await _filtered_listing(
        "admin_pages.audit",
        AUDIT_FILTERS,
        AuditQuery,
        EVENTS_SHOWN,
        audit_events,
        "admin/audit.html",
        i18n.gettext("Audit log"),
    )
