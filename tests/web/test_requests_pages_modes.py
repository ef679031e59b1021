"""The request pages over HTTP in both runtime modes (SQLite in-process; PostgreSQL and Redis):
asking in place and without JavaScript, joining someone's request, bad input named, the lists
and a bulk decision. What a browser adds (scripts, focus, live rows) is in
``test_requests_pages.py``."""

from __future__ import annotations

import re
from typing import Any

from medianest.core.db.models import MediaRequest as RequestRow
from medianest.sdk.errors import UpstreamUnreachableError
from tests.web.wishlist import SOURCE, WishlistPlugin

SETTINGS: dict[str, Any] = {"features": {"hello": True}, "rate_limits": {"enabled": False}}
FILM = {"source": SOURCE, "item_id": "movie-7", "kind": "movie", "title": "Wanted Film 7"}


async def test_asking_listing_and_deciding_in_each_mode(medianest_hub, mode) -> None:
    async with medianest_hub.run(
        {SOURCE: WishlistPlugin()}, autoload=True, **SETTINGS, **mode
    ) as running:
        client = running.client
        ann = await running.sign_in(username="ann-asks")
        bob = await running.sign_in(username="bob-asks")
        manager = await running.sign_in(permissions=["search", "manage_requests"])

        asked = await client.post("/requests", headers=ann, form=FILM | {"partial": "1"})
        box = await asked.get_data(as_text=True)
        assert asked.status_code == 201, box
        assert "data-request-box" in box and "Requested: pending" in box
        assert "<html" not in box  # the box alone, for the page's script to put in place

        again = await client.post("/requests", headers=bob, form=FILM | {"partial": "1"})
        joined = await again.get_data(as_text=True)
        assert again.status_code == 409
        assert "requested already" in joined and 'data-status="pending"' in joined
        assert "ann-asks" not in joined  # who asked is for them and for managers

        plain = await client.post("/requests", headers=bob, form=FILM | {"item_id": "movie-8"})
        assert plain.status_code == 303
        assert re.fullmatch(r"/requests\?made=\d+", plain.headers["Location"])
        mine = await client.get(plain.headers["Location"], headers=bob)
        listed = await mine.get_data(as_text=True)
        assert "Requested Wanted Film 8: pending." in listed
        assert "Wanted Film 8" in listed and "Wanted Film 7" not in listed  # bob's own only

        with running.hub.database.activate():
            film7 = await RequestRow.get(tmdb_id=50_007)
        everyone = await client.get("/requests/manage?status=pending", headers=manager)
        page = await everyone.get_data(as_text=True)
        assert everyone.status_code == 200
        assert "Wanted Film 7" in page and "Wanted Film 8" in page and "ann-asks" in page
        decided = await client.post(
            "/requests/manage",
            headers=manager,
            form={"action": "approve", "ids": str(film7.id), "next": "/requests/manage"},
        )
        assert decided.status_code == 303
        after = await client.get(decided.headers["Location"], headers=manager)
        assert "1 request approved." in await after.get_data(as_text=True)
        with running.hub.database.activate():
            await film7.refresh_from_db()
        assert film7.status == "approved"


async def test_bad_input_is_named_never_a_crash(medianest_hub) -> None:
    async with medianest_hub.run({SOURCE: WishlistPlugin()}, autoload=True, **SETTINGS) as running:
        client = running.client
        ann = await running.sign_in()
        manager = await running.sign_in(permissions=["search", "manage_requests"])
        cases = [
            (FILM | {"kind": "book"}, 400, "kind"),
            (FILM | {"seasons": "2"}, 400, "seasons"),
            (
                {"kind": "show", "source": SOURCE, "item_id": "show-1", "seasons": "two"},
                400,
                "season",
            ),
            ({"kind": "movie"}, 400, "TMDB"),
            (FILM | {"item_id": "movie-999"}, 404, "movie-999"),
        ]
        for form, status, named in cases:
            for partial in ("", "1"):
                answer = await client.post(
                    "/requests", headers=ann, form=form | {"partial": partial}
                )
                text = await answer.get_data(as_text=True)
                assert answer.status_code == status, (form, partial, answer.status_code, text[:300])
                assert named in text, (form, named)
        for query in ("status=lost", "kind=book", "cursor=nope"):
            answer = await client.get(f"/requests?{query}", headers=ann)
            assert answer.status_code in (400, 422), query
        bad = await client.get("/requests/manage?user=someone", headers=manager)
        assert bad.status_code == 422 and "user" in await bad.get_data(as_text=True)
        for form in ({"action": "archive", "ids": "1"}, {"action": "approve", "ids": "x"}):
            answer = await client.post("/requests/manage", headers=manager, form=form)
            assert answer.status_code == 400, form
        none = await client.post("/requests/manage", headers=manager, form={"action": "approve"})
        assert none.status_code == 303 and "picked=none" in none.headers["Location"]
        backend = running.hub.registry.get("request_backends", "hello:requests")

        async def down(*_args: Any, **_kwargs: Any) -> Any:
            raise UpstreamUnreachableError("connection refused")

        backend.create_request = down
        for partial in ("", "1"):
            answer = await client.post("/requests", headers=ann, form=FILM | {"partial": partial})
            text = await answer.get_data(as_text=True)
            assert answer.status_code == 503, (partial, answer.status_code)  # as the API says
            assert "hello:requests" in text and "connection refused" in text
        gone = await client.post("/requests/12345/delete", headers=ann)
        assert gone.status_code == 404
