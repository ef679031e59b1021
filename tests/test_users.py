"""Completing a sign-in: users found or created, profiles refreshed, credentials encrypted.

Each test runs on SQLite (embedded) and on PostgreSQL + Redis (scaled).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from medianest.core.db.models import ExternalIdentity, User
from medianest.core.secrets import SecretBox
from medianest.core.users import DEACTIVATED, complete_sign_in, stored_credentials
from medianest.sdk.errors import AuthenticationError
from medianest.sdk.models import Identity

KEY = "users-test-secret-key-0123456789abcdef"
TOKEN = "plex-token-never-in-clear"


def identity(**changes) -> Identity:
    values = {
        "provider": "plex",
        "external_id": "1001",
        "username": "ann",
        "email": "ann@example.com",
        "display_name": "Ann Smith",
        "avatar_url": "https://plex.tv/users/ann/avatar",
        "credentials": {"plex_token": TOKEN},
        "attributes": {"servers": ["plex:home"], "managed": False},
    }
    return Identity(**{**values, **changes})


@pytest.fixture
async def hub(medianest_hub, mode) -> AsyncIterator:
    async with medianest_hub.run(**mode | {"secret_key": KEY}) as running:
        with running.hub.database.activate():
            yield running.hub


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(KEY)


async def test_the_owner_is_an_admin_on_first_sign_in(hub, box) -> None:
    user = await complete_sign_in(identity(is_admin=True), box)
    assert user.role == "admin" and user.is_active
    assert (user.username, user.display_name, user.email) == ("ann", "Ann Smith", "ann@example.com")
    assert user.last_sign_in_at is not None and user.created_at is not None
    link = await ExternalIdentity.get(provider="plex", external_id="1001")
    assert link.user_id == user.id
    assert link.attributes == {"servers": ["plex:home"], "managed": False}


async def test_anyone_else_is_a_user(hub, box) -> None:
    user = await complete_sign_in(identity(), box)
    assert user.role == "user"


async def test_credentials_are_stored_encrypted(hub, box) -> None:
    await complete_sign_in(identity(), box)
    _, rows = await hub.database.connection.execute_query(
        "SELECT credentials_encrypted FROM core_external_identity"
    )
    stored = rows[0]["credentials_encrypted"]
    assert TOKEN not in stored and "plex_token" not in stored
    link = await ExternalIdentity.get(external_id="1001")
    assert stored_credentials(link, box) == {"plex_token": TOKEN}


async def test_no_credentials_store_nothing(hub, box) -> None:
    await complete_sign_in(identity(credentials={}), box)
    link = await ExternalIdentity.get(external_id="1001")
    assert link.credentials_encrypted is None
    assert stored_credentials(link, box) == {}


async def test_signing_in_again_refreshes_profile_and_token_but_not_the_role(hub, box) -> None:
    first = await complete_sign_in(identity(is_admin=True), box)
    later = datetime.now(UTC) + timedelta(hours=1)
    again = await complete_sign_in(
        identity(
            username="ann2",
            display_name="Ann S.",
            email=None,
            credentials={"plex_token": "new-token"},
            attributes={"servers": []},
            is_admin=False,
        ),
        box,
        now=later,
    )
    assert again.id == first.id and await User.all().count() == 1
    assert again.role == "admin", "the role is set on the first sign-in only"
    assert (again.username, again.display_name, again.email) == ("ann2", "Ann S.", None)
    assert again.last_sign_in_at == later
    link = await ExternalIdentity.get(external_id="1001")
    assert stored_credentials(link, box) == {"plex_token": "new-token"}
    assert link.attributes == {"servers": []}


async def test_a_deactivated_user_is_refused_and_left_alone(hub, box) -> None:
    user = await complete_sign_in(identity(), box)
    user.is_active = False
    await user.save()
    with pytest.raises(AuthenticationError) as caught:
        await complete_sign_in(
            identity(display_name="Changed", credentials={"plex_token": "x"}), box
        )
    assert caught.value.message == DEACTIVATED
    reloaded = await User.get(id=user.id)
    assert reloaded.display_name == "Ann Smith"
    link = await ExternalIdentity.get(external_id="1001")
    assert stored_credentials(link, box) == {"plex_token": TOKEN}


async def test_usernames_stay_unique_across_providers(hub, box) -> None:
    plex = await complete_sign_in(identity(), box)
    other = await complete_sign_in(identity(provider="hello", external_id="ann"), box)
    third = await complete_sign_in(identity(provider="hello", external_id="ann-b"), box)
    assert (plex.username, other.username, third.username) == ("ann", "ann-2", "ann-3")
    again = await complete_sign_in(identity(provider="hello", external_id="ann"), box)
    assert again.username == "ann-2", "a taken username is not grabbed on a later sign-in"


async def test_concurrent_first_sign_ins_make_one_user(hub, box) -> None:
    users = await asyncio.gather(*(complete_sign_in(identity(), box) for _ in range(5)))
    assert {u.id for u in users} == {users[0].id}
    assert await User.all().count() == 1
    assert await ExternalIdentity.all().count() == 1


async def test_odd_profile_values_are_fitted_to_the_columns(hub, box) -> None:
    user = await complete_sign_in(
        identity(
            username="x" * 300,
            display_name="  " + "N" * 300,
            email="a" * 400 + "@example.com",
            avatar_url="https://example.com/" + "p" * 3000,
            attributes={"when": datetime(2024, 1, 1, tzinfo=UTC)},
        ),
        box,
    )
    assert len(user.username) == 150 and len(user.display_name) == 200
    assert user.email is None and user.avatar_url is None
    link = await ExternalIdentity.get(external_id="1001")
    assert link.attributes == {"when": "2024-01-01 00:00:00+00:00"}
