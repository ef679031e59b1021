"""Reading requests (yours, everyone's), acting on them (approve, decline, retry, delete, in
bulk), and a backend's news applied through ``hub.request_changed``."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from medianest.core.db.models import AuditEvent
from medianest.core.db.models import MediaRequest as RequestRow
from medianest.sdk import ExternalIds, MediaKind, MediaRequest, RequestStatus, events
from medianest.sdk.access import Permission
from medianest.sdk.events import REQUESTS_CHANNEL
from tests.requests.conftest import REQUESTS, Person, RequestsHub
from tests.requests.fake_backend import BACKEND_ID

MANAGER = [Permission.SEARCH, Permission.REQUEST, Permission.MANAGE_REQUESTS]


async def _file(hub: RequestsHub, person: Person, tmdb: int, kind: str = "movie") -> dict:
    answer = await hub.ask(person, kind=kind, tmdb_id=tmdb)
    assert answer.status_code == 201, await answer.get_json()
    return await answer.get_json()


async def test_people_list_their_own_and_managers_everyones(requests_hub: RequestsHub) -> None:
    ann = await requests_hub.person("ann")
    bob = await requests_hub.person("bob")
    boss = await requests_hub.person("boss", permissions=MANAGER)
    mine = [await _file(requests_hub, ann, 550 + n) for n in range(5)]
    theirs = await _file(requests_hub, bob, 1401, "show")
    client = requests_hub.client

    page = await (await client.get(f"{REQUESTS}?limit=2", headers=ann.headers)).get_json()
    assert page["total"] == 5 and [r["id"] for r in page["items"]] == [
        mine[4]["id"],
        mine[3]["id"],
    ]
    seen = [r["id"] for r in page["items"]]
    while page["next_cursor"]:
        page = await (
            await client.get(
                f"{REQUESTS}?limit=2&cursor={page['next_cursor']}", headers=ann.headers
            )
        ).get_json()
        seen += [r["id"] for r in page["items"]]
    assert seen == [r["id"] for r in reversed(mine)]

    refused = await client.get(f"{REQUESTS}?everyone=true", headers=ann.headers)
    assert refused.status_code == 403
    other = await client.get(f"{REQUESTS}?user={bob.id}", headers=ann.headers)
    assert other.status_code == 403
    everyone = await (
        await client.get(f"{REQUESTS}?everyone=true", headers=boss.headers)
    ).get_json()
    assert everyone["total"] == 6
    shows = await (
        await client.get(f"{REQUESTS}?everyone=true&kind=show", headers=boss.headers)
    ).get_json()
    assert [r["id"] for r in shows["items"]] == [theirs["id"]]
    bobs = await (await client.get(f"{REQUESTS}?user={bob.id}", headers=boss.headers)).get_json()
    assert bobs["total"] == 1
    pending = await (
        await client.get(f"{REQUESTS}?everyone=true&status=approved", headers=boss.headers)
    ).get_json()
    assert pending["total"] == 0

    with requests_hub.hub.database.activate():
        await RequestRow.filter(id=mine[0]["id"]).update(
            created_at=datetime.now(UTC) - timedelta(days=3)
        )
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    recent = await (await client.get(f"{REQUESTS}?since={since}", headers=ann.headers)).get_json()
    assert recent["total"] == 4
    older = await (await client.get(f"{REQUESTS}?until={since}", headers=ann.headers)).get_json()
    assert [r["id"] for r in older["items"]] == [mine[0]["id"]]

    bad = await client.get(f"{REQUESTS}?cursor=bm90LW91cnM", headers=ann.headers)
    assert bad.status_code == 400
    assert (await client.get(f"{REQUESTS}?status=lost", headers=ann.headers)).status_code == 422


async def test_one_request_is_visible_to_its_people_and_managers_only(
    requests_hub: RequestsHub,
) -> None:
    ann = await requests_hub.person("ann")
    bob = await requests_hub.person("bob")
    boss = await requests_hub.person("boss", permissions=MANAGER)
    filed = await _file(requests_hub, ann, 551)
    url = f"{REQUESTS}/{filed['id']}"
    assert (await requests_hub.client.get(url, headers=ann.headers)).status_code == 200
    assert (await requests_hub.client.get(url, headers=boss.headers)).status_code == 200
    hidden = await requests_hub.client.get(url, headers=bob.headers)
    assert hidden.status_code == 404
    missing = await requests_hub.client.get(f"{REQUESTS}/99999", headers=boss.headers)
    assert missing.status_code == 404 and "99999" in (await missing.get_json())["detail"]


async def test_approve_decline_retry_and_delete(requests_hub: RequestsHub) -> None:
    ann = await requests_hub.person("ann")
    boss = await requests_hub.person("boss", permissions=MANAGER)
    client = requests_hub.client
    filed = await _file(requests_hub, ann, 551)
    url = f"{REQUESTS}/{filed['id']}"

    async with requests_hub.hub.pubsub.subscribe(f"person:{ann.id}") as personal:
        approved = await client.post(f"{url}/approve", headers=boss.headers)
        body = await approved.get_json()
        assert approved.status_code == 200, body
        told = await asyncio.wait_for(anext(personal), 5)
    assert body["status"] == "approved"
    assert body["decided_by"] == {"id": boss.id, "username": "boss"}
    assert told == {"type": "request", "request": body}
    (act,) = requests_hub.backend.calls_of("act")
    assert act.principal.username == "boss"
    (event,) = await requests_hub.events.wait_for(events.REQUEST_APPROVED)
    assert event.user_id == ann.id and event.data["status"] == "approved"

    again = await client.post(f"{url}/approve", headers=boss.headers)
    assert again.status_code == 409 and (await again.get_json())["code"] == "invalid_transition"

    declined = await client.post(
        f"{url}/decline", json={"reason": "not in the budget"}, headers=boss.headers
    )
    body = await declined.get_json()
    assert body["status"] == "declined" and body["reason"] == "not in the budget"
    (event,) = await requests_hub.events.wait_for(events.REQUEST_DECLINED)
    assert event.data["reason"] == "not in the budget"

    retry = await client.post(f"{url}/retry", headers=boss.headers)
    assert retry.status_code == 409  # only failed requests are retried
    with requests_hub.hub.database.activate():
        await RequestRow.filter(id=filed["id"]).update(status="failed")
    retried = await client.post(f"{url}/retry", headers=boss.headers)
    assert (await retried.get_json())["status"] == "pending"

    not_yours = await client.post(f"{url}/approve", headers=ann.headers)
    assert not_yours.status_code == 403
    async with requests_hub.hub.pubsub.subscribe(REQUESTS_CHANNEL) as channel:
        deleted = await client.delete(url, headers=boss.headers)
        assert deleted.status_code == 204
        message = await asyncio.wait_for(anext(channel), 5)
    assert message["request"]["status"] == "deleted"
    assert requests_hub.backend.requests == {}
    await requests_hub.events.wait_for(events.REQUEST_DELETED)
    gone = await (await client.get(url, headers=boss.headers)).get_json()
    assert gone["status"] == "deleted"
    with requests_hub.hub.database.activate():
        actions = sorted(
            await AuditEvent.filter(action__startswith="request.").values_list("action", flat=True)
        )
    assert actions == [
        "request.approved",
        "request.created",
        "request.declined",
        "request.deleted",
        "request.retried",
    ]


async def test_the_requester_may_delete_their_own_pending_request_only(
    requests_hub: RequestsHub,
) -> None:
    ann = await requests_hub.person("ann")
    bob = await requests_hub.person("bob")
    boss = await requests_hub.person("boss", permissions=MANAGER)
    first = await _file(requests_hub, ann, 551)
    second = await _file(requests_hub, ann, 552)
    hers = await requests_hub.client.delete(f"{REQUESTS}/{first['id']}", headers=ann.headers)
    assert hers.status_code == 204 and first["remote_id"] not in requests_hub.backend.requests
    (delete,) = requests_hub.backend.calls_of("delete")
    assert delete.principal.username == "ann"
    other = await requests_hub.client.delete(f"{REQUESTS}/{second['id']}", headers=bob.headers)
    assert other.status_code == 404
    await requests_hub.client.post(f"{REQUESTS}/{second['id']}/approve", headers=boss.headers)
    decided = await requests_hub.client.delete(f"{REQUESTS}/{second['id']}", headers=ann.headers)
    assert decided.status_code == 403
    # Deleted on the hub, the work may be asked for again, even where the backend hands out
    # the deleted request's id again.
    requests_hub.backend._ids = itertools.count(int(first["remote_id"]))
    again = await requests_hub.ask(ann, kind="movie", tmdb_id=551)
    assert again.status_code == 201, await again.get_json()
    assert (await again.get_json())["remote_id"] == first["remote_id"]


async def test_a_backend_down_while_acting_changes_nothing(requests_hub: RequestsHub) -> None:
    from medianest.sdk import UpstreamError

    ann = await requests_hub.person("ann")
    boss = await requests_hub.person("boss", permissions=MANAGER)
    filed = await _file(requests_hub, ann, 551)
    requests_hub.backend.failures["act"] = UpstreamError("down", plugin="fake")
    answer = await requests_hub.client.post(
        f"{REQUESTS}/{filed['id']}/approve", headers=boss.headers
    )
    assert answer.status_code == 503
    assert (await answer.get_json())["source"] == BACKEND_ID
    after = await (
        await requests_hub.client.get(f"{REQUESTS}/{filed['id']}", headers=boss.headers)
    ).get_json()
    assert after["status"] == "pending"


async def test_bulk_actions_report_each_outcome(requests_hub: RequestsHub) -> None:
    ann = await requests_hub.person("ann")
    boss = await requests_hub.person("boss", permissions=MANAGER)
    filed = [await _file(requests_hub, ann, 550 + n) for n in range(3)]
    answer = await requests_hub.client.post(
        f"{REQUESTS}/bulk",
        json={"action": "decline", "ids": [f["id"] for f in filed] + [99999], "reason": "no"},
        headers=boss.headers,
    )
    body = await answer.get_json()
    assert answer.status_code == 200, body
    assert body["succeeded"] == 3 and body["failed"] == 1
    assert [r["ok"] for r in body["results"]] == [True, True, True, False]
    assert body["results"][3]["error"]["code"] == "not_found"
    assert {r["request"]["status"] for r in body["results"][:3]} == {"declined"}
    await requests_hub.events.wait_for(events.REQUEST_DECLINED, 3)
    refused = await requests_hub.client.post(
        f"{REQUESTS}/bulk", json={"action": "approve", "ids": [filed[0]["id"]]}, headers=ann.headers
    )
    assert refused.status_code == 403
    empty = await requests_hub.client.post(
        f"{REQUESTS}/bulk", json={"action": "approve", "ids": []}, headers=boss.headers
    )
    assert empty.status_code == 422


async def _next_of_type(messages: Any, kind: str) -> dict[str, Any]:
    """The next message of ``kind`` a person's channel carries (their inbox's news, a
    notification, may come first)."""
    async for message in messages:
        if message.get("type") == kind:
            return dict(message)
    raise AssertionError(f"the channel closed before a {kind!r} message")


async def test_a_backends_news_updates_the_request(requests_hub: RequestsHub) -> None:
    ann = await requests_hub.person("ann")
    filed = await _file(requests_hub, ann, 551)

    def news(status: RequestStatus, request_id: str = filed["remote_id"]) -> MediaRequest:
        return MediaRequest(
            backend=BACKEND_ID,
            request_id=request_id,
            kind=MediaKind.MOVIE,
            ids=ExternalIds(tmdb=551),
            status=status,
        )

    hub = requests_hub.hub
    assert await hub.request_changed(news(RequestStatus.APPROVED)) is True
    assert await hub.request_changed(news(RequestStatus.APPROVED)) is True  # no second event
    assert await hub.request_changed(news(RequestStatus.PROCESSING)) is True
    async with hub.pubsub.subscribe(f"person:{ann.id}") as personal:
        assert await hub.request_changed(news(RequestStatus.AVAILABLE)) is True
        told = await asyncio.wait_for(_next_of_type(personal, "request"), 5)
    assert told["request"]["status"] == "available"
    assert await hub.request_changed(news(RequestStatus.AVAILABLE, "424242")) is False
    other = MediaRequest(
        backend="other:backend",
        request_id=filed["remote_id"],
        kind=MediaKind.MOVIE,
        ids=ExternalIds(tmdb=551),
        status=RequestStatus.FAILED,
    )
    assert await hub.request_changed(other) is False
    await requests_hub.events.wait_for(events.REQUEST_AVAILABLE)
    await asyncio.sleep(0.1)
    assert len(requests_hub.events.of(events.REQUEST_APPROVED)) == 1
    body = await (
        await requests_hub.client.get(f"{REQUESTS}/{filed['id']}", headers=ann.headers)
    ).get_json()
    assert body["status"] == "available" and body["available_at"] is not None


async def test_lookup_by_ids_answers_from_the_hubs_table_alone(requests_hub: RequestsHub) -> None:
    ann = await requests_hub.person("ann")
    film = await _file(requests_hub, ann, 551)
    show = await _file(requests_hub, ann, 1401, "show")
    calls = len(requests_hub.backend.calls)
    service = requests_hub.hub.requests
    asked = [ExternalIds(tmdb=551), ExternalIds(tmdb=1401), ExternalIds(tmdb=999), ExternalIds()]
    found = await service.lookup_by_ids(asked)
    assert set(found) == {asked[0], asked[1]}
    assert found[asked[0]].id == film["id"] and found[asked[0]].status == "pending"
    assert found[asked[0]].requested_by.username == "ann"
    assert found[asked[1]].id == show["id"]
    shows_only = await service.lookup_by_ids(asked, kind="show")
    assert set(shows_only) == {asked[1]}
    assert len(requests_hub.backend.calls) == calls  # no backend call


async def test_approving_into_processing_still_says_approved(embedded_hub: RequestsHub) -> None:
    ann = await embedded_hub.person("ann")
    boss = await embedded_hub.person("boss", permissions=MANAGER)
    embedded_hub.backend.approved_status = RequestStatus.PROCESSING
    filed = await _file(embedded_hub, ann, 551)
    answer = await embedded_hub.client.post(
        f"{REQUESTS}/{filed['id']}/approve", headers=boss.headers
    )
    body = await answer.get_json()
    assert body["status"] == "processing" and body["decided_by"]["username"] == "boss"
    (event,) = await embedded_hub.events.wait_for(events.REQUEST_APPROVED)
    assert event.data["status"] == "processing"
