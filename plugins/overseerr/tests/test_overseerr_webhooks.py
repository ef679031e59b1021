"""The webhook blueprint in a small Quart app, with a fake hub."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from overseerr_testkit import FakeHub, webhook_payload
from quart import Quart

from medianest.sdk import MediaKind, RequestStatus
from medianest_overseerr.settings import OverseerrSettings
from medianest_overseerr.webhooks import make_blueprint

SECRET = "hook-secret-0123456789"
PREFIX = "/api/v1/plugins/overseerr"
HOOK = f"{PREFIX}/webhook/home"


def settings() -> OverseerrSettings:
    return OverseerrSettings(
        instances=[
            {
                "name": "home",
                "url": "http://o.lan:5055",
                "api_key": "k" * 32,
                "webhook_secret": SECRET,
            },
            {"name": "cabin", "url": "http://c.lan:5055", "api_key": "c" * 32},
        ]
    )


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub(known={("overseerr:home", "7")})


@pytest.fixture
def app(hub: FakeHub) -> Quart:
    app = Quart("hub-under-test")
    app.register_blueprint(make_blueprint(settings()), url_prefix=PREFIX)
    app.extensions["medianest.hub"] = hub
    return app


async def post(app: Quart, body: Any, *, secret: str | None = SECRET, path: str = HOOK):
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["Authorization"] = secret
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await app.test_client().post(path, data=data, headers=headers)


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("MEDIA_PENDING", RequestStatus.PENDING),
        ("MEDIA_APPROVED", RequestStatus.APPROVED),
        ("MEDIA_AUTO_APPROVED", RequestStatus.APPROVED),
        ("MEDIA_AVAILABLE", RequestStatus.AVAILABLE),
        ("MEDIA_DECLINED", RequestStatus.DECLINED),
        ("MEDIA_FAILED", RequestStatus.FAILED),
    ],
)
async def test_a_good_webhook_changes_the_request(
    app: Quart, hub: FakeHub, kind: str, status: RequestStatus
) -> None:
    response = await post(app, webhook_payload(kind))
    assert response.status_code == 200, await response.get_data()
    assert (await response.get_json())["request"] == {
        "backend": "overseerr:home",
        "request_id": "7",
    }
    (changed,) = hub.changed
    assert changed.status is status and changed.kind is MediaKind.MOVIE
    assert changed.ids.tmdb == 603 and changed.title == "The Matrix"
    assert changed.requested_by == "friend"


async def test_a_show_webhook_carries_the_requested_seasons(app: Quart, hub: FakeHub) -> None:
    body = webhook_payload("MEDIA_PENDING", media_type="tv", tmdb="1399")
    body["extra"] = [{"name": "Requested Seasons", "value": "2, 1"}]
    assert (await post(app, body)).status_code == 200
    assert hub.changed[0].kind is MediaKind.SHOW and hub.changed[0].seasons == (1, 2)


async def test_a_webhook_about_an_unknown_request_is_ignored(app: Quart, hub: FakeHub) -> None:
    response = await post(app, webhook_payload(request_id=999))
    assert response.status_code == 202
    assert (await response.get_json())["status"] == "ignored"
    assert [r.request_id for r in hub.changed] == ["999"]


async def test_a_forged_webhook_is_refused_and_logged_once(
    app: Quart, hub: FakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    for secret in ("hook-secret-0123456788", None, "x"):
        response = await post(app, webhook_payload(), secret=secret)
        assert response.status_code == 401
        body = await response.get_json()
        assert body["code"] == "overseerr.webhook.forged" and SECRET not in json.dumps(body)
    assert not hub.changed
    logged = [r for r in caplog.records if "does not match" in r.getMessage()]
    assert len(logged) == 1 and SECRET not in logged[0].getMessage()


async def test_a_replayed_webhook_is_refused(app: Quart, hub: FakeHub) -> None:
    assert (await post(app, webhook_payload())).status_code == 200
    again = await post(app, webhook_payload())
    assert again.status_code == 400
    assert (await again.get_json())["code"] == "overseerr.webhook.replayed"
    assert len(hub.changed) == 1
    other = webhook_payload("MEDIA_AVAILABLE")  # a new notification about the same request
    assert (await post(app, other)).status_code == 200


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (b"{not json", "invalid-json", "not valid JSON"),
        ([1, 2], "not-object", "not a JSON object"),
        ({"subject": "x"}, "missing-field", "notification_type"),
        ({"notification_type": "MEDIA_APPROVED", "media": None}, "missing-field", "request object"),
        (webhook_payload(request_id="abc"), "bad-field", "request_id"),
        (webhook_payload(media_type="music"), "bad-field", "media_type"),
        (webhook_payload(tmdb="x"), "bad-field", "tmdbId"),
        (b'{"notification_type": "\\ud800"}', "invalid-json", "not valid JSON"),
    ],
)
async def test_a_malformed_webhook_says_what_is_wrong(
    app: Quart, hub: FakeHub, body: Any, code: str, words: str
) -> None:
    response = await post(app, body)
    assert response.status_code == 400
    problem = await response.get_json()
    assert problem["code"] == f"overseerr.webhook.{code}" and words in problem["detail"]
    assert not hub.changed


async def test_the_test_button_and_other_notifications(app: Quart, hub: FakeHub) -> None:
    test = {"notification_type": "TEST_NOTIFICATION", "subject": "Test Notification"}
    assert (await post(app, test)).status_code == 200
    issue = {"notification_type": "ISSUE_CREATED", "subject": "x", "issue": {"issue_id": "1"}}
    response = await post(app, issue)
    assert response.status_code == 202 and (await response.get_json())["status"] == "ignored"
    assert not hub.changed


async def test_no_webhook_for_unknown_instances_or_those_without_a_secret(app: Quart) -> None:
    for path in (f"{PREFIX}/webhook/attic", f"{PREFIX}/webhook/cabin"):
        response = await post(app, webhook_payload(), path=path)
        assert response.status_code == 404
