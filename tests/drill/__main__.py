"""``python -m tests.drill [--quick] [--out DIR]``: the local scale-out drill (``make drill``).

Sets up the private cluster (see :mod:`tests.drill.cluster`), starts the load (see
:mod:`tests.drill.load`) and runs the phases one at a time:

1. ``baseline``: nothing disturbed;
2. ``rolling_restart``: each API replica drained in HAProxy (runtime API), stopped (SIGTERM),
   started again and put back once ready, one after the other;
3. ``sigterm_restart``: the same roll with SIGTERM alone, as an orchestrator does it: the
   replica fails ``/health/ready`` first and HAProxy's health check takes it out;
4. ``worker_kill``: a full sync of the big server; the worker running it is SIGKILLed in
   the middle and the other one resumes it;
5. ``redis_restart`` and 6. ``postgres_restart``: the server stopped, started again;
7. ``requests_notifications``: the closing checks of the requests the load filed (each once
   on the hub and once in the simulated Overseerr, with the same status) and of the
   notifications (each status change reached the webhook receiver or the inbox, no
   Idempotency-Key twice).

Prints a table per phase and writes ``drill.json`` (``bench-results/`` or ``--out``); exits 1
when a target is missed, 2 when the drill itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from medianest_overseerr.mapping import request_status
from medianest_overseerr.simulator import Notification, SpawnedOverseerr, spawn_simulator
from tests.benchmarks.results import DEFAULT_OUT_DIR, machine_info
from tests.drill.cluster import (
    OVERSEERR_API_KEY,
    OVERSEERR_INSTANCE,
    OVERSEERR_WEBHOOK_SECRET,
    DrillError,
    HAProxy,
    HubProcesses,
    Postgres,
    Receiver,
    RedisServer,
    poll,
    simulator,
    worker_beats,
)
from tests.drill.load import (
    REQUESTERS,
    LoadTarget,
    Person,
    Recorder,
    SocketLog,
    person_loop,
    subscriber,
)
from tests.drill.report import (
    RECOVERY_TARGET_SECONDS,
    Phase,
    console,
    print_phase,
    summarise,
    targets,
)


@dataclass(frozen=True)
class Size:
    home_items: int
    big_items: int
    people: int
    sockets: int
    baseline_seconds: float
    settle_seconds: float
    outage_seconds: float
    pause_seconds: float
    sigterm_replicas: int
    """How many replicas the SIGTERM-only roll restarts (the quick drill: one)."""
    converge_seconds: float = 75.0
    """How long the closing checks wait for the hub and Overseerr to agree once the drill
    queued the reconciliation job (when webhooks alone did not do it within 10 s), and twice
    as long as they wait for notifications to arrive."""


REQUESTABLE = 2000
"""Titles only the simulated Overseerr has (none runs out during the drill)."""
OVERSEERR_WEBHOOKS = (
    Notification.MEDIA_PENDING
    | Notification.MEDIA_APPROVED
    | Notification.MEDIA_AUTO_APPROVED
    | Notification.MEDIA_AVAILABLE
    | Notification.MEDIA_DECLINED
    | Notification.MEDIA_FAILED
)


FULL = Size(5000, 100_000, 6, 3, 20, 10, 3, 0.05, 3)
QUICK = Size(1000, 10_000, 4, 2, 4, 3, 2, 0.1, 1)


class Drill:
    def __init__(self, size: Size, workdir: Path) -> None:
        self.size = size
        self.workdir = workdir
        self.recorder = Recorder()
        self.stop_load = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.sockets: list[SocketLog] = []
        self.people: list[Person] = []
        self.admin: Person | None = None
        self.control = httpx.AsyncClient(timeout=10)
        self.postgres = Postgres(workdir)
        self.redis = RedisServer(workdir)
        self.home = simulator(workdir, "home", size.home_items, seed=1)
        self.big = simulator(workdir, "big", size.big_items, seed=2)
        self.hub: HubProcesses | None = None
        self.haproxy: HAProxy | None = None
        self.stack = contextlib.AsyncExitStack()
        self.overseerr: SpawnedOverseerr | None = None
        self.receiver = Receiver()
        self.accounts: dict[int, str] = {}
        """Hub user id -> the drill's account (owner, friend1...)."""
        self.target: LoadTarget | None = None
        self.timeline: list[tuple[float, str]] = []

    def note(self, text: str) -> None:
        self.timeline.append((time.monotonic(), text))
        console.print(f"[dim]{datetime.now(UTC).strftime('%H:%M:%S')}[/] {text}")

    # -- setup ----------------------------------------------------------------------------

    async def set_up(self) -> None:
        self.note("starting PostgreSQL, Redis and the Plex simulators")
        requestable = asyncio.create_task(
            asyncio.to_thread(requestable_titles, self.size.home_items, self.home.seed)
        )
        await asyncio.gather(
            self.postgres.init(),
            self.redis.start(),
            self.home.start(),
            self.big.start(),
            self._start_overseerr(),
            self.receiver.start(),
        )
        assert self.overseerr is not None
        overseerr = [
            {
                "name": OVERSEERR_INSTANCE,
                "url": self.overseerr.url,
                "api_key": OVERSEERR_API_KEY,
                "webhook_secret": OVERSEERR_WEBHOOK_SECRET,
                "create_missing_users": True,
            }
        ]
        plex = {
            "servers": [
                {"name": "home", "url": self.home.server_url, "token": self.home.token},
                {"name": "big", "url": self.big.server_url, "token": self.big.token, "timeout": 60},
            ],
            "plextv_url": self.home.plextv_url,
            "auth_app_url": self.home.auth_url,
        }
        self.hub = HubProcesses.plan(
            self.workdir,
            self.postgres.url,
            self.redis.url,
            plex,
            n_api=3,
            n_workers=2,
            extra={
                "MEDIANEST_PLUGINS__OVERSEERR__INSTANCES": json.dumps(overseerr),
                "MEDIANEST_PLUGINS__NOTIFY__WEBHOOK": json.dumps(
                    {"allow_private_destinations": True}
                ),
                # One delivery per change (no merging) and no per-destination wait: the
                # closing checks count every notification.
                "MEDIANEST_NOTIFICATIONS__GROUP_WINDOW_SECONDS": "0",
                "MEDIANEST_NOTIFICATIONS__DESTINATION_LIMIT": "100000",
            },
        )
        self.haproxy = HAProxy(self.workdir, self.hub.replica_ports)
        self.note("migrating the database, starting 3 replicas, 2 workers and HAProxy")
        await self.hub.migrate()
        await asyncio.gather(
            *(self.hub.start_replica(i, self.control) for i in range(3)),
            *(self.hub.start_worker(i) for i in range(2)),
            self.haproxy.start(),
        )
        await poll(self._all_up, 20, "HAProxy seeing the 3 replicas up")
        await self._point_overseerr_webhook()
        self.target = LoadTarget(
            self.haproxy.url,
            self.home.control_url,
            "plex:home",
            overseerr_control_url=f"{self.overseerr.url}/_control",
            requestable=await requestable,
        )
        self.admin = Person(self.target, "owner", Recorder())
        if not await self.admin.sign_in():
            raise DrillError("the Plex owner could not sign in through HAProxy")
        self.note("first sync of the home server")
        run = await self.sync("plex:home")
        await self.wait_run(run, 300)
        self.target.item_ids = await self.catalogue_ids("plex:home", limit=2000)
        if not self.target.item_ids:
            raise DrillError("the home server's sync left the catalogue empty")

    async def _start_overseerr(self) -> None:
        """The simulated Overseerr over the same Plex world as ``home`` (same seed and size)."""
        try:
            self.overseerr = await self.stack.enter_async_context(
                spawn_simulator(
                    seed=self.home.seed,
                    plex_items=self.size.home_items,
                    requestable=REQUESTABLE,
                    api_key=OVERSEERR_API_KEY,
                )
            )
        except (RuntimeError, TimeoutError) as exc:
            raise DrillError(f"the Overseerr simulator did not start: {exc!r}") from None

    async def _point_overseerr_webhook(self) -> None:
        """Overseerr's webhook agent on, towards the plugin's webhook through HAProxy."""
        assert self.overseerr is not None and self.haproxy is not None
        url = f"{self.haproxy.url}/api/v1/plugins/overseerr/webhook/{OVERSEERR_INSTANCE}"
        answer = await self.control.post(
            f"{self.overseerr.api_url}/settings/notifications/webhook",
            headers={"X-Api-Key": OVERSEERR_API_KEY},
            json={
                "enabled": True,
                "types": int(OVERSEERR_WEBHOOKS),
                "options": {"webhookUrl": url, "authHeader": OVERSEERR_WEBHOOK_SECRET},
            },
        )
        if answer.status_code != 200:
            raise DrillError(
                f"Overseerr refused its webhook settings: {answer.status_code} {answer.text}"
            )

    async def _all_up(self) -> bool:
        assert self.haproxy is not None
        servers = await self.haproxy.servers()
        return len(servers) == 3 and all(s["status"] == "UP" for s in servers.values())

    async def sync(self, source: str) -> int:
        assert self.admin is not None
        response = await self.admin.client.post(
            f"/api/v1/sync/{source}",
            json={"full": True},
            headers={"Authorization": f"Bearer {self.admin.token}"},
        )
        if response.status_code != 202:
            raise DrillError(f"POST /api/v1/sync/{source}: {response.status_code} {response.text}")
        run_id: int = response.json()["id"]
        return run_id

    async def run_view(self, run_id: int) -> dict[str, Any]:
        assert self.admin is not None
        response = await self.admin.client.get(
            f"/api/v1/sync/runs/{run_id}", headers={"Authorization": f"Bearer {self.admin.token}"}
        )
        response.raise_for_status()
        view: dict[str, Any] = response.json()
        return view

    async def wait_run(self, run_id: int, limit: float) -> dict[str, Any]:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                view = await self.run_view(run_id)
            except httpx.HTTPError:
                view = {"status": "?"}
            if view["status"] in ("succeeded", "failed", "cancelled"):
                if view["status"] != "succeeded":
                    raise DrillError(f"sync run {run_id} ended {view['status']}: {view}")
                return view
            await asyncio.sleep(0.5)
        raise DrillError(f"sync run {run_id} did not end within {limit:g} s")

    async def catalogue_ids(self, source: str, limit: int | None = None) -> list[str]:
        conn = await asyncpg.connect(self.postgres.url)
        try:
            sql = "SELECT item_id FROM core_library_item WHERE source = $1 ORDER BY id"
            rows = await conn.fetch(sql + (f" LIMIT {int(limit)}" if limit else ""), source)
        finally:
            await conn.close()
        return [r["item_id"] for r in rows]

    # -- load -----------------------------------------------------------------------------

    async def start_load(self) -> None:
        assert self.target is not None and self.admin is not None
        accounts = ["owner", "friend1", "friend2", "managed"]
        for n in range(self.size.people):
            person = Person(self.target, accounts[n % len(accounts)], self.recorder)
            if not await person.sign_in():
                raise DrillError(f"{person.account} could not sign in through HAProxy")
            self.people.append(person)
            if person.account not in self.accounts.values():
                await self._save_channel(person)
        admin = self.admin
        for n in range(self.size.sockets):
            log = SocketLog(f"socket {n + 1}")
            self.sockets.append(log)
            self.tasks.append(
                asyncio.create_task(
                    subscriber(
                        self.target.hub_url, lambda: admin.token, ["sync"], log, self.stop_load
                    )
                )
            )
        for person in self.people:
            self.tasks.append(
                asyncio.create_task(person_loop(person, self.stop_load, self.size.pause_seconds))
            )
        await poll(self._sockets_up, 20, "the WebSocket subscribers connected")

    async def _save_channel(self, person: Person) -> None:
        """The person's webhook channel, towards the drill's receiver (``/hook/<account>``)."""
        headers = {"Authorization": f"Bearer {person.token}"}
        me = await person.client.get("/api/v1/me", headers=headers)
        me.raise_for_status()
        self.accounts[int(me.json()["user"]["id"])] = person.account
        saved = await person.client.put(
            "/api/v1/notifications/channels/webhook",
            headers=headers,
            json={"address": f"{self.receiver.url}/hook/{person.account}"},
        )
        if saved.status_code != 200:
            raise DrillError(
                f"{person.account} could not save a webhook channel: "
                f"{saved.status_code} {saved.text}"
            )

    async def _sockets_up(self) -> bool:
        return all(log.connects for log in self.sockets)

    async def stop_everything(self) -> None:
        self.stop_load.set()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=15)
        for person in [*self.people, *([self.admin] if self.admin else [])]:
            await person.close()
        await self.control.aclose()
        stops = [self.haproxy.stop()] if self.haproxy else []
        if self.hub is not None:
            stops.append(self.hub.stop_all())
        await asyncio.gather(*stops, return_exceptions=True)
        await asyncio.gather(
            self.redis.stop(),
            self.postgres.stop(),
            self.home.proc.stop(),
            self.big.proc.stop(),
            self.receiver.stop(),
            self.stack.aclose(),
            return_exceptions=True,
        )

    # -- phases ---------------------------------------------------------------------------

    async def settle(self) -> None:
        await asyncio.sleep(self.size.settle_seconds)

    async def baseline(self, phase: Phase) -> None:
        await asyncio.sleep(self.size.baseline_seconds)

    async def rolling_restart(self, phase: Phase) -> None:
        assert self.hub is not None and self.haproxy is not None
        took = []
        for index, proc in enumerate(self.hub.replicas):
            name = f"r{index + 1}"
            began = time.monotonic()
            self.note(f"draining {name} in HAProxy, then SIGTERM")
            await self.haproxy.set_state(name, "drain")
            await poll(lambda n=name: self._idle(n), 15, f"{name} without sessions", 0.05)
            await self.haproxy.set_state(name, "maint")
            await proc.stop(signal.SIGTERM, grace=30)
            self.note(
                f"{name} exited {proc.child.process.returncode if proc.child else '?'}; "
                "starting it again"
            )
            await self.hub.start_replica(index, self.control)
            await self.haproxy.set_state(name, "ready")
            await poll(lambda n=name: self._up(n), 20, f"HAProxy seeing {name} up", 0.05)
            took.append(round(time.monotonic() - began, 2))
        phase.facts["replica_restart_seconds"] = took

    async def sigterm_restart(self, phase: Phase) -> None:
        """The roll an orchestrator does: SIGTERM only; HAProxy learns from ``/health/ready``
        (the replica fails it for ``server.drain_notice_seconds`` before it stops accepting)."""
        assert self.hub is not None
        took = []
        for index, proc in enumerate(self.hub.replicas[: self.size.sigterm_replicas]):
            name = f"r{index + 1}"
            began = time.monotonic()
            self.note(f"SIGTERM {name} (HAProxy's health check takes it out)")
            await proc.stop(signal.SIGTERM, grace=30)
            await self.hub.start_replica(index, self.control)
            await poll(lambda n=name: self._up(n), 20, f"HAProxy seeing {name} up", 0.05)
            took.append(round(time.monotonic() - began, 2))
        phase.facts["replica_restart_seconds"] = took

    async def _idle(self, server: str) -> bool:
        assert self.haproxy is not None
        row = (await self.haproxy.servers())[server]
        return row["scur"] == "0" or int(row["scur"]) <= self._tunnels_on(server)

    def _tunnels_on(self, server: str) -> int:
        # WebSockets stay open on a drained server until it stops; they reconnect then.
        return self.size.sockets

    async def _up(self, server: str) -> bool:
        assert self.haproxy is not None
        return (await self.haproxy.servers())[server]["status"] == "UP"

    async def worker_kill(self, phase: Phase) -> None:
        assert self.hub is not None
        expected = asyncio.create_task(
            asyncio.to_thread(simulated_ids, self.big.items, self.big.seed)
        )
        started = time.monotonic()
        run_id = await self.sync("plex:big")
        self.note(f"full sync of the big server: run {run_id}")
        view: dict[str, Any] = {}

        async def far_enough() -> bool:
            nonlocal view
            view = await self.run_view(run_id)
            total = view.get("total") or self.big.items
            return view["status"] == "running" and view["items_seen"] >= 0.3 * total

        await poll(far_enough, 600, f"run {run_id} a third through", 0.2)
        beats = await worker_beats(self.redis.url)
        busy = [
            i
            for i, p in enumerate(self.hub.workers)
            if p.child and beats.get(p.child.pid, {}).get("jobs_running")
        ]
        victim = busy[0] if busy else 0
        proc = self.hub.workers[victim]
        self.note(f"SIGKILL {proc.name} at {view['items_seen']} items seen")
        phase.facts["killed_at_items_seen"] = view["items_seen"]
        phase.facts["killed_worker_was_running_the_sync"] = bool(busy)
        killed_at = time.monotonic()
        await proc.stop(signal.SIGKILL, grace=5)
        resumed: dict[str, Any] = {}

        async def resumed_elsewhere() -> bool:
            nonlocal resumed
            resumed = await self.run_view(run_id)
            return resumed["attempts"] > view["attempts"] or resumed["status"] == "succeeded"

        resumed_at = await poll(resumed_elsewhere, 120, f"run {run_id} taken over", 0.25)
        phase.facts["resumed_after_seconds"] = round(resumed_at - killed_at, 2)
        final = await self.wait_run(run_id, 900)
        ended = time.monotonic()
        phase.facts["sync_seconds"] = round(ended - started, 2)
        phase.facts["run"] = {
            k: final[k]
            for k in (
                "items_seen",
                "total",
                "inserted",
                "updated",
                "deleted",
                "errors",
                "attempts",
                "pages",
            )
        }
        self.note(
            f"run {run_id} succeeded after {final['attempts']} attempts; restarting {proc.name}"
        )
        await self.hub.start_worker(victim)

        ids = await self.catalogue_ids("plex:big")
        want = await expected
        have = set(ids)
        lost, extra = want - have, have - want
        phase.check(
            "catalogue equals the server",
            not lost and not extra and len(ids) == len(want),
            f"{len(ids)} rows, server {len(want)} items; {len(lost)} lost, {len(extra)} extra, "
            f"{len(ids) - len(have)} duplicated",
        )
        phase.check(
            "resumed by another worker",
            final["attempts"] >= 2,
            f"{final['attempts']} attempts; taken over {phase.facts['resumed_after_seconds']} s "
            "after the kill",
        )
        phase.check(
            "0 items counted twice",
            final["inserted"] == len(want) and final["updated"] == 0 and final["deleted"] == 0,
            f"inserted {final['inserted']}, updated {final['updated']}, "
            f"deleted {final['deleted']} for {len(want)} items",
        )
        self.check_sockets(phase, run_id, started, ended)

    def check_sockets(self, phase: Phase, run_id: int, started: float, ended: float) -> None:
        """Every subscriber connected all along saw the same progress of the run, and its end."""
        seen: dict[str, list[tuple[str, int]]] = {}
        for log in self.sockets:
            frames = [
                (conn, f["data"]["run"])
                for at, conn, f in log.events
                if f.get("topic") == "sync" and f["data"].get("run", {}).get("id") == run_id
            ]
            if not frames:
                continue
            connections = {conn for conn, _ in frames}
            gaps = [d for d in log.disconnects if started <= d[0] <= ended]
            if len(connections) == 1 and not gaps:
                seen[log.name] = [(r["status"], r["items_seen"]) for _, r in frames]
        sequences = list(seen.values())
        same = bool(sequences) and all(s == sequences[0] for s in sequences)
        finished = bool(sequences) and all(s[-1][0] == "succeeded" for s in sequences)
        phase.facts["socket_progress_messages"] = {k: len(v) for k, v in seen.items()}
        phase.check(
            "WebSocket subscribers missed nothing",
            same and finished,
            f"{len(seen)} of {len(self.sockets)} subscribers connected throughout; "
            f"{'the same' if same else 'different'} {len(sequences[0]) if sequences else 0} "
            f"progress messages each, {'ending' if finished else 'NOT ending'} with succeeded",
        )

    async def outage(self, phase: Phase, server: Postgres | RedisServer) -> None:
        assert self.hub is not None
        await asyncio.sleep(self.size.settle_seconds / 2)
        self.note(f"stopping {server.proc.name}")
        down = time.monotonic()
        await server.stop()
        await asyncio.sleep(self.size.outage_seconds)
        self.note(f"starting {server.proc.name}")
        await server.proc.spawn()
        up = await poll(server.accepting, 60, f"{server.proc.name} accepting again", 0.05)
        up_wall = time.time()
        phase.window = (down, up)
        replicas = await asyncio.gather(
            *(self._recovered(i, up) for i in range(len(self.hub.replicas)))
        )
        workers = await self._workers_recovered(up, up_wall)
        phase.facts["replica_ready_after_seconds"] = replicas
        phase.facts["worker_serving_after_seconds"] = workers
        slow = [r for r in [*replicas, *workers] if r is None or r > RECOVERY_TARGET_SECONDS]
        phase.check(
            f"every replica and worker serving within {RECOVERY_TARGET_SECONDS:g} s",
            not slow,
            f"replicas {replicas} s, workers {workers} s after {server.proc.name} came back",
        )

    async def _recovered(self, index: int, up: float) -> float | None:
        assert self.hub is not None
        try:
            ready = await self.hub.wait_ready(index, self.control, 30)
        except DrillError:
            return None
        return round(ready - up, 2)

    async def _workers_recovered(self, up: float, up_wall: float) -> list[float | None]:
        assert self.hub is not None
        pids = [p.child.pid for p in self.hub.workers if p.child]
        found: dict[int, float] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(found) < len(pids):
            try:
                beats = await worker_beats(self.redis.url)
            except Exception:
                beats = {}
            for pid in pids:
                beat = beats.get(pid)
                if pid in found or beat is None or beat["unreachable"]:
                    continue
                if datetime.fromisoformat(beat["beat_at"]).timestamp() > up_wall:
                    found[pid] = round(time.monotonic() - up, 2)
            await asyncio.sleep(0.1)
        return [found.get(pid) for pid in pids]

    # -- requests and notifications --------------------------------------------------------

    async def requests_notifications(self, phase: Phase) -> None:
        """The closing checks: every request the load filed exists once on the hub and once in
        Overseerr with the same status; every status change reached its people (the webhook
        receiver, or their inbox); no notification was delivered twice under one key."""
        assert self.target is not None
        ledger = self.target.requests
        ledger.open = False
        began = time.monotonic()
        await asyncio.sleep(1)  # requests in flight land
        hub_rows: list[dict[str, Any]] = []
        remote: dict[str, str] = {}

        async def agreed() -> bool:
            nonlocal hub_rows, remote
            hub_rows = await self.hub_requests()
            remote = await self.overseerr_requests()
            return not disagreements(hub_rows, remote)

        # Overseerr's webhooks first; a change whose webhook was lost (sent while the hub was
        # down) is the reconciliation job's, which the drill then queues itself.
        phase.facts["reconciliation_job_run"] = False
        try:
            at: float | None = await poll(agreed, 10, "hub and Overseerr agreeing", 1)
        except DrillError:
            phase.facts["reconciliation_job_run"] = True
            await self.reconcile_now()
            try:
                at = await poll(agreed, self.size.converge_seconds, "hub and Overseerr agreeing", 2)
            except DrillError:
                at = None
        phase.facts["statuses_agreed_after_seconds"] = None if at is None else round(at - began, 2)
        self.check_requests(phase, hub_rows, remote)
        expected = expected_notifications(hub_rows, self.accounts, ledger.approved)
        missing: set[tuple[str, str, int]] = set()

        async def all_arrived() -> bool:
            nonlocal missing
            missing = expected - self.received(hub_rows)
            return not missing

        with contextlib.suppress(DrillError):
            await poll(all_arrived, self.size.converge_seconds / 2, "notifications arriving", 1)
        in_inbox = await self.in_inboxes(missing) if missing else set()
        lost = missing - in_inbox
        keys = Counter(d.key for d in self.receiver.deliveries)
        twice = {k: n for k, n in keys.items() if n > 1}
        phase.facts["notifications"] = {
            "received": len(self.receiver.deliveries),
            "by_event": dict(Counter(d.event for d in self.receiver.deliveries)),
            "status_changes_expected": len(expected),
            "only_in_inbox": len(in_inbox),
            "without_key": keys.get("", 0),
            "refused_by_receiver": self.receiver.bad,
        }
        phase.check(
            "every status change reached its people",
            not lost,
            f"{len(expected)} expected, {len(expected) - len(missing)} at the receiver, "
            f"{len(in_inbox)} only in the inbox, {len(lost)} nowhere"
            + (f": {sorted(lost)[:5]}" if lost else ""),
        )
        phase.check(
            "no notification delivered twice under one Idempotency-Key",
            not twice and not keys.get(""),
            f"{len(self.receiver.deliveries)} deliveries, {len(keys)} keys, "
            f"{sum(n - 1 for n in twice.values())} repeated, {keys.get('', 0)} without a key",
        )

    def check_requests(
        self, phase: Phase, hub_rows: list[dict[str, Any]], remote: dict[str, str]
    ) -> None:
        assert self.target is not None
        ledger = self.target.requests
        by_id = Counter(r["id"] for r in hub_rows)
        by_remote = Counter(r["remote_id"] for r in hub_rows if r["status"] != "deleted")
        lost_hub = [i for i in ledger.filed if by_id[i] == 0]
        twice_hub = [i for i in ledger.filed if by_id[i] > 1]
        twice_remote = [k for k, n in by_remote.items() if n > 1]
        filed_remote = {f.remote_id for f in ledger.filed.values()}
        kept = {r["remote_id"] for r in hub_rows}
        lost_overseerr = sorted(
            f.hub_id for f in ledger.filed.values() if f.remote_id not in remote
        )
        orphans = sorted(k for k in remote if k not in kept)
        unexpected = [r["id"] for r in hub_rows if r["remote_id"] not in filed_remote]
        wrong = disagreements(hub_rows, remote)
        phase.facts["requests"] = {
            "filed": len(ledger.filed),
            "already_requested_or_available": ledger.already,
            "approved_by_the_admin": len(ledger.approved),
            "made_available_by_overseerr": len(ledger.made_available),
            "overseerr_control_errors": ledger.control_errors,
            "on_the_hub": len(hub_rows),
            "in_overseerr": len(remote),
            "on_the_hub_though_the_answer_failed": len(unexpected),
            "by_status": dict(Counter(r["status"] for r in hub_rows)),
        }
        phase.check(
            "every request filed exists once on the hub",
            bool(ledger.filed) and not lost_hub and not twice_hub and not twice_remote,
            f"{len(ledger.filed)} filed; {len(lost_hub)} lost, {len(twice_hub)} listed twice, "
            f"{len(twice_remote)} Overseerr requests kept twice"
            + (f" (lost: {lost_hub[:5]})" if lost_hub else ""),
        )
        phase.check(
            "every request exists once in Overseerr",
            not lost_overseerr and not orphans,
            f"{len(remote)} in Overseerr; {len(lost_overseerr)} filed ones missing there, "
            f"{len(orphans)} there that the hub does not keep"
            + (f" (Overseerr ids {orphans[:5]})" if orphans else ""),
        )
        phase.check(
            "the same status on the hub and in Overseerr",
            not wrong,
            f"{len(wrong)} differ after the final reconciliation"
            + (f": {wrong[:5]}" if wrong else ""),
        )

    async def reconcile_now(self) -> None:
        """Queue the ``requests.reconcile`` job for the workers, as its schedule does."""
        from medianest.core.requests.reconcile import RECONCILE_JOB
        from medianest.sdk.jobs import Job
        from medianest.workers.arq_queue import ArqJobQueue, redis_settings

        async def elsewhere(ctx: Any) -> None:  # only the name travels; a worker runs it
            raise AssertionError("runs on the workers")

        queue = ArqJobQueue(redis_settings(self.redis.url), [Job(RECONCILE_JOB, elsewhere)])
        await queue.start()
        try:
            await queue.enqueue(RECONCILE_JOB, job_id=f"drill-reconcile-{time.time_ns()}")
        finally:
            await queue.close()

    async def hub_requests(self) -> list[dict[str, Any]]:
        """Everyone's requests as the hub lists them to its admin, every page."""
        assert self.admin is not None
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"everyone": "true", "limit": 100}
            if cursor:
                params["cursor"] = cursor
            answer = await self.admin.client.get(
                "/api/v1/requests",
                params=params,
                headers={"Authorization": f"Bearer {self.admin.token}"},
            )
            answer.raise_for_status()
            page = answer.json()
            rows.extend(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return rows

    async def overseerr_requests(self) -> dict[str, str]:
        """Every request the simulated Overseerr holds: its id -> the hub's status name."""
        assert self.overseerr is not None
        found: dict[str, str] = {}
        skip = 0
        while True:
            answer = await self.control.get(
                f"{self.overseerr.api_url}/request",
                params={"take": 100, "skip": skip, "filter": "all"},
                headers={"X-Api-Key": OVERSEERR_API_KEY},
            )
            answer.raise_for_status()
            page = answer.json()
            for raw in page["results"]:
                status = request_status(raw["status"], (raw.get("media") or {}).get("status"))
                found[str(raw["id"])] = status.value
            skip += 100
            if skip >= page["pageInfo"]["results"]:
                return found

    def received(self, hub_rows: list[dict[str, Any]]) -> set[tuple[str, str, int]]:
        """(account, event, hub request id) of every notification the receiver got."""
        hub_id = {r["remote_id"]: r["id"] for r in hub_rows}
        got = set()
        for delivery in self.receiver.deliveries:
            account = delivery.path.rstrip("/").rsplit("/", 1)[-1]
            # Core's notifications link to the request's page (/requests/<hub id>); one
            # carrying the backend's request names it in request.id.
            link = re.search(r"/requests/(\d+)", str(delivery.body.get("link") or ""))
            remote_id = str((delivery.body.get("request") or {}).get("id"))
            if link is not None:
                got.add((account, delivery.event, int(link.group(1))))
            elif remote_id in hub_id:
                got.add((account, delivery.event, hub_id[remote_id]))
        return got

    async def in_inboxes(self, wanted: set[tuple[str, str, int]]) -> set[tuple[str, str, int]]:
        """Those of ``wanted`` that are in their person's inbox on the hub."""
        found: set[tuple[str, str, int]] = set()
        people = {p.account: p for p in self.people}
        for account in {a for a, _, _ in wanted}:
            person = people[account]
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"limit": 100}
                if cursor:
                    params["cursor"] = cursor
                answer = await person.client.get(
                    "/api/v1/notifications",
                    params=params,
                    headers={"Authorization": f"Bearer {person.token}"},
                )
                answer.raise_for_status()
                page = answer.json()
                for item in page["items"]:
                    request_id = (item.get("data") or {}).get("request_id")
                    if isinstance(request_id, int):
                        found.add((account, item["event_type"], request_id))
                cursor = page["next_cursor"]
                if not cursor:
                    break
        return found & wanted

    async def redis_restart(self, phase: Phase) -> None:
        await self.outage(phase, self.redis)

    async def postgres_restart(self, phase: Phase) -> None:
        await self.outage(phase, self.postgres)


def requestable_titles(items: int, seed: int) -> list[tuple[str, int]]:
    """(kind, TMDB id) of every title only the simulated Overseerr has: the world the
    Overseerr simulator builds over the ``home`` Plex world (same seed, items)."""
    from medianest_overseerr.simulator import OverseerrWorld
    from medianest_plex.simulator.world import PlexWorld

    world = OverseerrWorld(PlexWorld(seed=seed, items=items, servers=1), requestable=REQUESTABLE)
    return [
        ("movie" if t.media_type == "movie" else "show", t.tmdb)
        for t in world.catalogue.requestable_only()
    ]


def disagreements(hub_rows: list[dict[str, Any]], remote: dict[str, str]) -> list[str]:
    """``hub id: hub status != Overseerr status`` for every request both keep."""
    return [
        f"{r['id']}: {r['status']} != {remote[r['remote_id']]}"
        for r in hub_rows
        if r["remote_id"] in remote and r["status"] != remote[r["remote_id"]]
    ]


def expected_notifications(
    hub_rows: list[dict[str, Any]], accounts: dict[int, str], approved: set[int]
) -> set[tuple[str, str, int]]:
    """(account, event, hub request id) of each status change the hub recorded: its new
    request told to the owner (who manages requests), the admin's approval (``approved``:
    the requests the load's admin approved) and an arrival told to the requester."""
    expected: set[tuple[str, str, int]] = set()
    for row in hub_rows:
        requester = accounts.get(row["requested_by"]["id"])
        expected.add(("owner", "request.created", row["id"]))
        if requester is None or requester not in REQUESTERS:
            continue
        if row["id"] in approved:
            expected.add((requester, "request.approved", row["id"]))
        if row["status"] == "available":
            expected.add((requester, "request.available", row["id"]))
    return expected


def simulated_ids(items: int, seed: int) -> set[str]:
    """Every item id of the simulated server, from the simulator's own world of that seed."""
    from medianest_plex.simulator.world import PlexWorld

    world = PlexWorld(seed=seed, items=items, servers=1)
    return {str(key) for key in world.servers[0].library.items}


PHASES = [
    "baseline",
    "rolling_restart",
    "sigterm_restart",
    "worker_kill",
    "redis_restart",
    "postgres_restart",
    "requests_notifications",
]


async def run(size: Size, workdir: Path) -> dict[str, Any]:
    drill = Drill(size, workdir)
    results: dict[str, Any] = {}
    try:
        await drill.set_up()
        drill.note(f"load: {size.people} people, {size.sockets} WebSocket subscribers")
        await drill.start_load()
        for name in PHASES:
            phase = Phase(name, time.monotonic())
            drill.note(f"phase {name}")
            try:
                await getattr(drill, name)(phase)
            except DrillError as exc:
                phase.check("phase ran", False, str(exc).splitlines()[0])
                drill.note(f"[red]{name} broke:[/] {exc}")
            await drill.settle()
            phase.ended = time.monotonic()
            summary = summarise(phase, drill.recorder)
            extra = targets(name, summary)
            summary["checks"] = [c.as_json() for c in extra] + summary["checks"]
            summary["passed"] = all(c["ok"] for c in summary["checks"])
            results[name] = summary
            print_phase(name, summary)
    finally:
        drill.note("stopping everything")
        await drill.stop_everything()
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.drill", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="10k-item sync, shorter load (the CI form, ~2-3 min)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="where drill.json goes")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    size = QUICK if args.quick else FULL
    workdir = Path(tempfile.mkdtemp(prefix="medianest-drill-"))
    workdir.chmod(0o755)  # PostgreSQL runs as its own user when the drill runs as root
    console.print(f"MediaNest drill ({'quick' if args.quick else 'full'}), work dir {workdir}")
    started = time.monotonic()
    loop = asyncio.new_event_loop()
    main_task = loop.create_task(run(size, workdir))
    loop.add_signal_handler(signal.SIGTERM, main_task.cancel)
    try:
        phases = loop.run_until_complete(main_task)
    except (DrillError, OSError) as exc:
        console.print(f"[red]The drill could not run:[/] {exc}")
        console.print(f"logs: {workdir / 'logs'}")
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("[red]interrupted[/]")
        return 130
    except Exception:
        traceback.print_exc()
        console.print(f"logs: {workdir / 'logs'}")
        return 2
    finally:
        loop.close()
    passed = all(p["passed"] for p in phases.values())
    document = {
        "drill": "quick" if args.quick else "full",
        "size": size.__dict__,
        "seconds": round(time.monotonic() - started, 1),
        "machine": machine_info(),
        "passed": passed,
        "phases": phases,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "drill.json").write_text(json.dumps(document, indent=2) + "\n")
    failed = [f"{n}: {c['name']}" for n, p in phases.items() for c in p["checks"] if not c["ok"]]
    console.print(f"written {args.out / 'drill.json'}; {document['seconds']} s")
    if failed:
        console.print("[red]targets missed:[/] " + "; ".join(failed))
        console.print(f"logs: {workdir / 'logs'}")
        return 1
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    console.print("[green]every target met[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
