"""A person's linked identities, as providers see them in the ``Principal``.

Every sign-in method a person used left an ``ExternalIdentity`` (provider → their account id
there: ``plex`` → their Plex account id); their ``User`` row has their email. Core puts both in
the principal of every request (the user cache keeps the identities for a moment, see
:meth:`UserCache.identities`), in a principal built outside a request
(:func:`acting_principal`) and in the addresses of a notification's recipients
(:func:`addresses_of`), so a request backend or notifier reaches the right person on its side.
Credentials are never part of it.
"""

from __future__ import annotations

from collections.abc import Iterable

from medianest.core.db.models import ExternalIdentity, User
from medianest.sdk.models import Principal

EMAIL = "email"
"""The address kind of a person's email."""


async def linked_identities(user_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """Provider → account id, per user, for every identity each of ``user_ids`` signed in with.

    One query; users without any identity are left out.
    """
    wanted = sorted(set(user_ids))
    found: dict[int, dict[str, str]] = {}
    if not wanted:
        return found
    rows = (
        await ExternalIdentity.filter(user_id__in=wanted)
        .order_by("id")
        .values_list("user_id", "provider", "external_id")
    )
    for user_id, provider, external_id in rows:
        found.setdefault(int(user_id), {})[str(provider)] = str(external_id)
    return found


async def acting_principal(principal: Principal) -> Principal:
    """``principal`` with the person's email and linked identities filled in from the database
    (what core hands request backends and other providers acting for the person)."""
    identities = (await linked_identities([principal.user_id])).get(principal.user_id, {})
    emails = await User.filter(id=principal.user_id).values_list("email", flat=True)
    email = emails[0] if emails else None
    return principal.model_copy(
        update={
            "identities": {**identities, **principal.identities},
            "email": principal.email or email,
        }
    )


async def addresses_of(user_ids: Iterable[int]) -> dict[int, tuple[str, dict[str, str]]]:
    """Username and addresses (``email`` and each linked identity's provider) per user; users
    that do not exist (any more) are left out."""
    wanted = sorted(set(user_ids))
    users = await User.filter(id__in=wanted, is_active=True).values_list("id", "username", "email")
    identities = await linked_identities(wanted)
    found: dict[int, tuple[str, dict[str, str]]] = {}
    for user_id, username, email in users:
        addresses = dict(identities.get(int(user_id), {}))
        if email:
            addresses[EMAIL] = str(email)
        found[int(user_id)] = (str(username), addresses)
    return found
