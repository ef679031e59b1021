"""A person's linked identities travel in the Principal core hands providers; sync requests."""

from __future__ import annotations

import pytest
from quart import Blueprint

from medianest.core.auth.linked import acting_principal, addresses_of
from medianest.core.auth.principals import principal_for
from medianest.core.users import complete_sign_in
from medianest.sdk import (
    Identity,
    InvalidInputError,
    NotFoundError,
    SourceCapability,
    current_principal,
    hookimpl,
    signed_in,
)
from medianest.sdk.testing import HubHarness
from tests.sync.fake_source import FakeLibrary, FakePlugin


async def test_a_plex_sign_in_becomes_a_linked_identity(
    medianest_hub: HubHarness, mode: dict
) -> None:
    async with medianest_hub.run(**mode) as running:
        hub = running.hub
        with hub.database.activate():
            user = await complete_sign_in(
                Identity(
                    provider="plex",
                    external_id="9001",
                    username="ann",
                    email="ann@example.org",
                    credentials={"plex_token": "secret-token"},
                ),
                hub.secrets,
            )
            await complete_sign_in(
                Identity(provider="local", external_id="someone-else", username="bob"),
                hub.secrets,
            )
            bare = principal_for(user)
            assert bare.email == "ann@example.org" and bare.identities == {}
            acting = await acting_principal(bare)
            addresses = await addresses_of([user.id, 424242])
        assert acting.identities == {"plex": "9001"}
        assert acting.identity("plex") == "9001" and acting.identity("discord") is None
        assert acting.email == "ann@example.org"
        assert "secret-token" not in acting.model_dump_json()
        assert addresses == {user.id: ("ann", {"plex": "9001", "email": "ann@example.org"})}


class WhoAmI:
    @hookimpl
    def register_blueprints(self) -> list[Blueprint]:
        blueprint = Blueprint("whoami", __name__)

        @blueprint.get("/me")
        @signed_in
        async def me() -> dict:
            """Who the hub says is calling."""
            principal = current_principal()
            assert principal is not None
            return {"identities": principal.identities, "email": principal.email}

        return [blueprint]


async def test_views_see_the_callers_linked_identities(
    medianest_hub: HubHarness, mode: dict
) -> None:
    async with medianest_hub.run({"whoami": WhoAmI()}, **mode) as running:
        hub = running.hub
        with hub.database.activate():
            user = await complete_sign_in(
                Identity(provider="plex", external_id="9001", username="ann", email="a@b.org"),
                hub.secrets,
            )
            issued = await hub.sessions.start(user, ip="127.0.0.1", user_agent="test")
        response = await running.client.get(
            "/api/v1/plugins/whoami/me",
            headers={"Authorization": f"Bearer {issued.access_token}"},
        )
        assert response.status_code == 200
        assert await response.get_json() == {"identities": {"plex": "9001"}, "email": "a@b.org"}


async def test_plugins_ask_core_for_a_sync_without_knowing_its_jobs(
    medianest_hub: HubHarness,
) -> None:
    changes, whole = FakeLibrary("fake", 3), FakeLibrary("fake:nochanges", 3, changes=False)
    live = FakeLibrary("fake:live", 1)
    live.capabilities = frozenset({SourceCapability.SEARCH})
    async with medianest_hub.run({"fake": FakePlugin(changes, whole, live)}) as running:
        hub = running.hub
        incremental = await hub.request_sync("fake")
        assert incremental.job_id == "sync.incremental:fake"
        full = await hub.request_sync("fake:nochanges")
        assert full.job_id == "sync.full:fake:nochanges", "a source without changes syncs whole"
        await hub.jobs.join()
        assert changes.pages_served > 0 and whole.pages_served > 0
        with pytest.raises(NotFoundError):
            await hub.request_sync("nope")
        with pytest.raises(InvalidInputError, match="has no library"):
            await hub.request_sync("fake:live")
