"""``medianest requests list|approve|decline`` on the hub's database, as the system or as a
named person who manages requests."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from medianest.config import Settings
from medianest.core.cli import _hub as cli_hub
from medianest.core.cli import main
from medianest.core.db.models import AuditEvent
from medianest.core.hub import Hub, build_hub
from medianest.sdk import events
from medianest.sdk.access import Permission
from medianest.sdk.testing import HubHarness
from tests.requests.conftest import SETTINGS, RequestsHub
from tests.requests.fake_backend import BACKEND_ID, FakeRequests, FakeRequestsPlugin


@pytest.fixture
def backend() -> FakeRequests:
    return FakeRequests()


@pytest.fixture
def plugin(backend: FakeRequests) -> FakeRequestsPlugin:
    return FakeRequestsPlugin(backend)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def filed(tmp_path: Path, data_dir: Path, plugin: FakeRequestsPlugin) -> dict[str, Any]:
    """Ann's two requests, filed through a hub on ``data_dir``; boss manages requests."""

    async def setup() -> dict[str, Any]:
        async with HubHarness(tmp_path).run(
            {"fake": plugin}, data_dir=data_dir, **SETTINGS
        ) as running:
            hub = RequestsHub(running, plugin.backend, plugin.events)
            ann = await hub.person("ann")
            await hub.person("boss", permissions=[Permission.MANAGE_REQUESTS])
            await hub.person("joe")
            first = await (await hub.ask(ann, kind="movie", tmdb_id=551)).get_json()
            second = await (await hub.ask(ann, kind="show", tmdb_id=1401)).get_json()
            return {"first": first, "second": second}

    return asyncio.run(setup())


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, data_dir: Path, plugin: FakeRequestsPlugin) -> Any:
    """Runs ``medianest ARGS`` in this process, its hub holding the fake backend."""

    def with_backend(settings: Settings, **kwargs: Any) -> Hub:
        return build_hub(settings, plugins={"fake": plugin}, **kwargs)

    monkeypatch.setattr(cli_hub, "build_hub", with_backend)
    env = {
        "MEDIANEST_DATA_DIR": str(data_dir),
        "MEDIANEST_REQUESTS__DEFAULT_BACKEND": BACKEND_ID,
        "MEDIANEST_EVENTS__FLUSH_SECONDS": "0.02",
    }

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def test_list_shows_every_request_newest_first(cli: Any, filed: dict[str, Any]) -> None:
    listed = cli("requests", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [r["id"] for r in rows] == [filed["second"]["id"], filed["first"]["id"]]
    assert rows[0]["requested_by"]["username"] == "ann"
    table = cli("requests", "list", "--status", "pending", "--user", "ann")
    assert table.exit_code == 0
    assert "Film 1 (1991)" in table.output and "Show 1 (2001)" in table.output
    assert "2 of 2 request(s)" in table.output
    nobody = cli("requests", "list", "--user", "nobody")
    assert nobody.exit_code == 1 and "no user named 'nobody'" in nobody.output


def test_approve_as_the_system_and_decline_as_a_manager(
    cli: Any, filed: dict[str, Any], plugin: FakeRequestsPlugin, data_dir: Path, tmp_path: Path
) -> None:
    first, second = filed["first"]["id"], filed["second"]["id"]
    approved = cli("requests", "approve", str(first))
    assert approved.exit_code == 0, approved.output
    assert f"approved request {first} (Film 1 (1991)): approved" in approved.output
    (act,) = plugin.backend.calls_of("act")
    assert act.principal.username == "system"

    declined = cli("requests", "decline", str(second), "--reason", "too long", "--as", "boss")
    assert declined.exit_code == 0, declined.output
    assert plugin.backend.calls_of("act")[1].principal.username == "boss"

    again = cli("requests", "approve", str(first))
    assert again.exit_code == 1 and "cannot be approved" in again.output
    missing = cli("requests", "approve", "99999")
    assert missing.exit_code == 1 and "no request 99999" in missing.output
    refused = cli("requests", "approve", str(second), "--as", "joe")
    assert refused.exit_code == 1 and "manage_requests" in refused.output

    listed = [json.loads(line) for line in cli("requests", "list", "--json").output.splitlines()]
    assert {r["id"]: (r["status"], r["reason"]) for r in listed} == {
        first: ("approved", None),
        second: ("declined", "too long"),
    }
    assert plugin.events.of(events.REQUEST_APPROVED) and plugin.events.of(events.REQUEST_DECLINED)

    async def audit() -> list[tuple[str, str | None]]:
        async with HubHarness(tmp_path).run(
            {"fake": plugin}, data_dir=data_dir, **SETTINGS
        ) as running:
            with running.hub.database.activate():
                rows = await AuditEvent.filter(
                    action__in=["request.approved", "request.declined"]
                ).order_by("id")
                return [(row.action, row.actor) for row in rows]

    assert asyncio.run(audit()) == [("request.approved", "system"), ("request.declined", "boss")]
