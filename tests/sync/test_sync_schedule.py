"""When syncs run on their own: the schedule, the webhook, and runs whose worker died."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import httpx

from medianest.config.settings import SyncSchedule, SyncSettings
from medianest.core.db.models import SyncRun
from medianest.core.sync import RunKind, Trigger
from medianest.core.sync.jobs import due, schedule_job
from medianest.sdk.jobs import JobContext
from medianest.sdk.testing import HubHarness
from medianest_plex import plugin
from medianest_plex.simulator import RunningSimulator
from tests.sync.conftest import SYNC_SETTINGS, plex_section
from tests.sync.fake_source import FakeLibrary, FakePlugin

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
DAILY = SyncSchedule(incremental_minutes=5, full_daily_at=time(4, 0))


def ended(kind: str, at: datetime, status: str = "succeeded") -> SyncRun:
    return SyncRun(kind=kind, status=status, created_at=at, finished_at=at, heartbeat_at=at)


def test_a_source_schedule_takes_what_it_leaves_out_from_the_sync_section() -> None:
    settings = SyncSettings(
        incremental_minutes=15,
        full_daily_at=time(2, 30),
        sources={"plex:cabin": {"incremental_minutes": 0}, "plex:attic": {"full_daily_at": ""}},
    )
    assert settings.schedule_for("plex:home") == SyncSchedule(
        incremental_minutes=15, full_daily_at=time(2, 30)
    )
    assert settings.schedule_for("plex:cabin") == SyncSchedule(
        incremental_minutes=0, full_daily_at=time(2, 30)
    )
    assert settings.schedule_for("plex:attic") == SyncSchedule(
        incremental_minutes=15, full_daily_at=None
    )


def test_a_source_never_synced_gets_a_full_sync_at_once() -> None:
    assert due(DAILY, NOW, last_full=None, last_incremental=None, can_list_changes=True) == (
        RunKind.FULL
    )


def test_a_full_sync_is_due_once_per_daily_slot() -> None:
    today = ended("full", NOW.replace(hour=4, minute=1))
    yesterday = ended("full", NOW - timedelta(days=1))
    recent = ended("incremental", NOW - timedelta(minutes=1))
    assert due(DAILY, NOW, last_full=today, last_incremental=recent, can_list_changes=True) is None
    assert (
        due(DAILY, NOW, last_full=yesterday, last_incremental=recent, can_list_changes=True)
        == RunKind.FULL
    )
    before_slot = NOW.replace(hour=3)  # the slot of the day has not come yet
    last_night = ended("full", (NOW - timedelta(days=1)).replace(hour=4, minute=5))
    wanted = due(
        DAILY, before_slot, last_full=last_night, last_incremental=recent, can_list_changes=True
    )
    assert wanted is None


def test_a_failed_full_sync_is_tried_again_an_hour_later() -> None:
    recent = ended("incremental", NOW - timedelta(minutes=1))
    failed = ended("full", NOW - timedelta(minutes=30), status="failed")
    assert due(DAILY, NOW, last_full=failed, last_incremental=recent, can_list_changes=True) is None
    failed = ended("full", NOW - timedelta(minutes=61), status="failed")
    assert (
        due(DAILY, NOW, last_full=failed, last_incremental=recent, can_list_changes=True)
        == RunKind.FULL
    )


def test_incremental_syncs_follow_their_interval() -> None:
    full = ended("full", NOW.replace(hour=4, minute=1))
    fresh = ended("incremental", NOW - timedelta(minutes=4))
    old = ended("incremental", NOW - timedelta(minutes=5))
    assert due(DAILY, NOW, last_full=full, last_incremental=fresh, can_list_changes=True) is None
    assert (
        due(DAILY, NOW, last_full=full, last_incremental=old, can_list_changes=True)
        == RunKind.INCREMENTAL
    )
    assert due(DAILY, NOW, last_full=full, last_incremental=old, can_list_changes=False) is None
    off = SyncSchedule(incremental_minutes=0, full_daily_at=None)
    assert due(off, NOW, last_full=None, last_incremental=None, can_list_changes=True) is None


async def test_the_tick_queues_due_runs_joins_active_ones_and_hands_on_orphans(
    medianest_hub: HubHarness, mode: dict
) -> None:
    library = FakeLibrary("fake", 30)
    schedule = {"incremental_minutes": 5, "full_daily_at": "04:00"}
    settings = {**SYNC_SETTINGS, "sources": {"fake": schedule}}
    async with medianest_hub.run({"fake": FakePlugin(library)}, sync=settings, **mode) as running:
        hub = running.hub
        with hub.database.activate():
            ctx = JobContext(hub=hub, job_id="tick", attempt=1)
            if mode:  # scaled: ticks run on workers; tick here and run what it queued
                first = await schedule_job(hub.sync, ctx)
                assert len(first["queued"]) == 1
                await hub.sync.execute(first["queued"][0])
            else:  # embedded: the hub ticked at startup and ran the run itself
                await hub.jobs.join()
            run = await SyncRun.get(source="fake")
            assert (run.kind, run.trigger, run.status, run.inserted) == (
                "full",
                "schedule",
                "succeeded",
                30,
            )

            # A run whose worker died: once its lease lapsed, the tick hands it on, and
            # the incremental sync now due joins it rather than starting beside it.
            orphan, _ = await hub.sync.claim_slot("fake", RunKind.FULL, Trigger.API)
            stale = datetime.now(UTC) - timedelta(seconds=60)
            await SyncRun.filter(id=orphan.id).update(
                status="running", owner="gone", heartbeat_at=stale
            )
            assert (await schedule_job(hub.sync, ctx))["queued"] == [orphan.id]
            if mode:
                await hub.sync.execute(orphan.id)
            else:
                await hub.jobs.join()
            done = await SyncRun.get(id=orphan.id)
            assert (done.status, done.attempts, done.inserted) == ("succeeded", 1, 0)

            # The full sync is done for today; an incremental one is due next.
            nxt = await schedule_job(hub.sync, ctx)
            assert len(nxt["queued"]) == 1
            assert (await SyncRun.get(id=nxt["queued"][0])).kind == "incremental"


async def test_a_library_new_webhook_runs_an_incremental_sync(
    medianest_hub: HubHarness, plex_sim: RunningSimulator
) -> None:
    secret = "sync-webhook-secret-0123456789"
    section = plex_section(plex_sim, webhook_secret=secret)
    async with medianest_hub.run(
        {"plex": plugin}, plugins={"plex": section}, sync=SYNC_SETTINGS
    ) as running:
        hub = running.hub
        uuid = await hub.provider("plex:home").machine_identifier()
        body = json.dumps({"event": "library.new", "Server": {"uuid": uuid}})
        multipart = httpx.Request("POST", "http://hub/", files={"payload": (None, body.encode())})
        response = await running.client.post(
            f"/api/v1/plugins/plex/webhook/{secret}",
            data=multipart.read(),
            headers={"Content-Type": multipart.headers["content-type"]},
        )
        assert response.status_code == 202
        await hub.jobs.join()
        with hub.database.activate():
            run = await SyncRun.get(source="plex:home")
            assert (run.kind, run.trigger, run.status) == ("incremental", "plugin", "succeeded")
            assert run.inserted > 0
            assert run.checkpoint is not None
            # A request while nothing runs starts a new one; the webhook's job id is free again.
            again, created = await hub.sync.claim_slot("plex:home", RunKind.FULL, Trigger.API)
            assert created and again.id != run.id
