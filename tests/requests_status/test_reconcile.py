"""The reconciliation job: statuses the hub missed (lost webhooks) brought up to date in one
run, paged, with nothing written when nothing changed, a failing backend skipped."""

from __future__ import annotations

from medianest.config import load_settings
from medianest.core.db.models import MediaRequest as RequestRow
from medianest.core.hub import build_hub
from medianest.core.requests.reconcile import PAGE_SIZE, RECONCILE_JOB, every
from medianest.sdk import UpstreamError
from medianest.sdk.jobs import Cron
from medianest.sdk.testing import RunningHub
from tests.requests_status.conftest import Recorder
from tests.requests_status.fake_backend import FakeBackend, local_request, person

REQUESTS = 250
"""Three pages of the job's page size."""


async def seeded(backend: FakeBackend, count: int, *, start: int = 1) -> None:
    """``count`` pending requests in ``backend`` and on the hub."""
    user = await person(f"asker-{backend.id.split(':')[1]}")
    for number in range(start, start + count):
        remote = backend.add(str(number), "movie", 50_000 + number)
        await local_request(user, remote)


async def statuses(backend_id: str) -> dict[str, str]:
    rows = await RequestRow.filter(backend=backend_id).values_list("remote_id", "status")
    return dict(rows)


async def stamps(backend_id: str) -> dict[str, object]:
    rows = await RequestRow.filter(backend=backend_id).values_list("remote_id", "updated_at")
    return dict(rows)


async def test_one_run_catches_every_missed_webhook_and_a_second_writes_nothing(
    status_hub: RunningHub, backend: FakeBackend, recorder: Recorder
) -> None:
    hub = status_hub.hub
    await seeded(backend, REQUESTS)
    changed = {"3": "approved", "120": "declined", "121": "processing", "249": "failed"}
    changed |= {str(n): "approved" for n in range(200, 230)}
    for remote_id, status in changed.items():
        backend.set_status(remote_id, status)

    first = await hub.reconciler.run()

    assert first.updated == len(changed)
    assert backend.list_calls == -(-REQUESTS // PAGE_SIZE)
    held = await statuses(backend.id)
    assert {r: held[r] for r in changed} == changed
    assert sum(1 for status in held.values() if status == "pending") == REQUESTS - len(changed)
    await hub.events.flush()
    assert len(recorder.of("request.approved")) == 31
    assert [e.data["remote_id"] for e in recorder.of("request.declined")] == ["120"]
    assert [e.data["remote_id"] for e in recorder.of("request.failed")] == ["249"]

    before = await stamps(backend.id)
    calls = backend.list_calls
    second = await hub.reconciler.run()
    assert second.updated == 0
    assert backend.list_calls - calls == 3
    assert second.calls == 3 + 1  # and one (empty) page of the other backend
    assert await stamps(backend.id) == before, "an unchanged run wrote rows"
    await hub.events.flush()
    assert len(recorder.of("request.approved")) == 31


async def test_the_backend_is_asked_for_everyone_as_the_hub_itself(
    status_hub: RunningHub, backend: FakeBackend
) -> None:
    await seeded(backend, 3)
    await status_hub.hub.reconciler.run()
    principal = backend.principals[-1]
    assert principal.user_id == 0
    assert principal.has("manage_requests")


async def test_a_failing_backend_is_skipped_and_the_others_reconciled(
    status_hub: RunningHub, backend: FakeBackend, other_backend: FakeBackend
) -> None:
    await seeded(backend, 5)
    await seeded(other_backend, 5, start=100)
    backend.set_status("2", "approved")
    other_backend.set_status("101", "approved")
    backend.fail = UpstreamError("fakereq:main is unreachable", source=backend.id)

    result = await status_hub.hub.reconciler.run()

    outcomes = {o.backend: o for o in result.backends}
    assert outcomes["fakereq:main"].error == "fakereq:main is unreachable"
    assert outcomes["fakereq:other"].error is None
    assert outcomes["fakereq:other"].updated == 1
    assert (await statuses(backend.id))["2"] == "pending"
    assert (await statuses(other_backend.id))["101"] == "approved"

    backend.fail = None
    assert (await status_hub.hub.reconciler.run()).updated == 1
    assert (await statuses(backend.id))["2"] == "approved"


async def test_what_the_hub_learned_itself_is_not_undone(
    status_hub: RunningHub, backend: FakeBackend
) -> None:
    """A title a sync found stays available while the backend still says processing."""
    user = await person()
    remote = backend.add("7", "movie", 777, status="processing")
    await local_request(user, remote, status="available", location=("fakereq:lib", "1"))
    gone = backend.add("8", "movie", 888, status="approved")
    await local_request(user, gone, status="deleted")

    result = await status_hub.hub.reconciler.run()

    assert result.updated == 0
    assert await statuses(backend.id) == {"7": "available", "8": "deleted"}


async def test_requests_unknown_to_the_hub_are_left_alone(
    status_hub: RunningHub, backend: FakeBackend
) -> None:
    backend.add("9", "movie", 999, status="approved")
    result = await status_hub.hub.reconciler.run()
    assert result.updated == 0
    assert result.backends[0].seen == 1 and result.backends[0].known == 0
    assert await RequestRow.all().count() == 0


def test_the_job_runs_on_the_schedule_the_settings_give() -> None:
    settings = load_settings(requests={"reconcile_minutes": 15})
    hub = build_hub(settings, autoload=False)
    job = {job.name: job for job in hub.job_definitions}[RECONCILE_JOB]
    assert job.cron == every(15) == Cron(minute={0, 15, 30, 45}, second=0)
    off = build_hub(load_settings(requests={"reconcile_minutes": 0}), autoload=False)
    assert {job.name: job for job in off.job_definitions}[RECONCILE_JOB].cron is None
