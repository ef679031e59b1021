"""``medianest secrets rotate``: stored secrets move to the current key; run again, nothing
changes; values no known key opens are reported and left alone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from medianest.config import Settings, load_settings
from medianest.core.db.models import AuditEvent, ExternalIdentity, User
from medianest.core.hub import Hub, build_hub
from medianest.core.secret_rotation import (
    ENCRYPTED_COLUMNS,
    ColumnReport,
    EncryptedColumn,
    rotate_all,
    rotate_value,
)
from medianest.core.secrets import SecretBox
from tests.cli_helpers import medianest

OLD = "old-secret-key-0123456789-abcdefghijklmnop"
NEW = "new-secret-key-0123456789-abcdefghijklmnop"
LOST = "lost-secret-key-0123456789-abcdefghijklmno"


@asynccontextmanager
async def services(settings: Settings) -> AsyncIterator[Hub]:
    """A hub with its database and shared state open, as the command has it."""
    hub = build_hub(settings)
    await hub.start(migrate=True, services_only=True)
    try:
        yield hub
    finally:
        await hub.close()


def settings_for(tmp_path: Path, mode: dict, key: str, *previous: str) -> Settings:
    return load_settings(
        **{**mode, "data_dir": tmp_path / "data", "secret_key": key},
        previous_secret_keys=list(previous),
    )


async def store(settings: Settings, secrets: dict[str, str | None], key: str) -> dict[str, int]:
    """Identities holding ``secrets`` (by username), encrypted under ``key``; their ids."""
    box = SecretBox(key)
    ids = {}
    async with services(settings) as hub:
        with hub.database.activate():
            for username, secret in secrets.items():
                user = await User.create(username=username)
                identity = await ExternalIdentity.create(
                    user=user,
                    provider="pw",
                    external_id=username,
                    credentials_encrypted=box.encrypt(secret) if secret is not None else None,
                )
                ids[username] = identity.id
    return ids


async def stored(settings: Settings) -> dict[int, str | None]:
    async with services(settings) as hub:
        with hub.database.activate():
            rows = await ExternalIdentity.all().values_list("id", "credentials_encrypted")
    return dict(rows)


async def audit_events(settings: Settings) -> list[AuditEvent]:
    async with services(settings) as hub:
        with hub.database.activate():
            return await AuditEvent.filter(action="secrets.rotated").order_by("id")


async def rotate_secrets(settings: Settings, *, batch_size: int) -> list[ColumnReport]:
    assert settings.secret_key is not None
    current = SecretBox(settings.secret_key.get_secret_value())
    async with services(settings) as hub:
        with hub.database.activate():
            return await rotate_all(hub.secrets, current, batch_size=batch_size)


def counts(report: Any) -> tuple[int, int, int, list]:
    return report.rotated, report.current, report.changed, report.undecryptable


async def test_secrets_move_to_the_new_key_and_a_second_run_changes_nothing(tmp_path, mode) -> None:
    before = settings_for(tmp_path, mode, OLD)
    old_ids = await store(before, {f"user{i}": f"token-{i}" for i in range(5)}, OLD)
    await store(before, {"nobody": None}, OLD)
    after = settings_for(tmp_path, mode, NEW, OLD)
    new_ids = await store(after, {"fresh": "token-fresh"}, NEW)
    lost_ids = await store(after, {"stranger": "token-lost"}, LOST)
    untouched = (await stored(after))[lost_ids["stranger"]]

    [report] = await rotate_secrets(after, batch_size=2)
    assert report.column == "ExternalIdentity.credentials_encrypted"
    assert counts(report) == (5, 1, 0, [lost_ids["stranger"]])

    values = await stored(after)
    only_new = SecretBox(NEW)
    for i, identity_id in enumerate(old_ids.values()):
        assert only_new.decrypt(values[identity_id]) == f"token-{i}"
    assert only_new.decrypt(values[new_ids["fresh"]]) == "token-fresh"
    assert values[lost_ids["stranger"]] == untouched
    assert None in values.values()

    [again] = await rotate_secrets(after, batch_size=2)
    assert counts(again) == (0, 6, 0, [lost_ids["stranger"]])
    assert await stored(after) == values

    events = await audit_events(after)
    assert [e.outcome for e in events] == ["failure", "failure"]
    details = events[0].details["ExternalIdentity.credentials_encrypted"]
    assert details == {
        "rotated": 5,
        "current": 1,
        "changed": 0,
        "undecryptable": [str(lost_ids["stranger"])],
    }
    assert events[0].actor == "cli"
    assert not any(f"token-{i}" in json.dumps(e.details) for e in events for i in range(5))


async def test_a_value_rewritten_during_the_run_is_left_to_the_hub(tmp_path) -> None:
    ids = await store(settings_for(tmp_path, {}, OLD), {"ann": "token-ann"}, OLD)
    settings = settings_for(tmp_path, {}, NEW, OLD)
    column = ENCRYPTED_COLUMNS[0]
    report = ColumnReport(column.name)
    async with services(settings) as hub:
        with hub.database.activate():
            read = (await ExternalIdentity.get(id=ids["ann"])).credentials_encrypted
            rewritten = SecretBox(NEW).encrypt("token-ann-2")
            await ExternalIdentity.filter(id=ids["ann"]).update(credentials_encrypted=rewritten)
            await rotate_value(column, ids["ann"], read, hub.secrets, SecretBox(NEW), report)
    assert counts(report) == (0, 0, 1, [])
    assert (await stored(settings))[ids["ann"]] == rewritten
    assert "1 changed meanwhile" in report.summary()


def test_every_encrypted_column_names_a_text_field() -> None:
    for column in ENCRYPTED_COLUMNS:
        assert isinstance(column, EncryptedColumn)
        assert column.column in column.model._meta.fields_map
        assert column.name == f"{column.model.__name__}.{column.column}"


@pytest.mark.slow  # runs the command in processes of its own
async def test_the_command_reports_counts_and_fails_on_undecryptable_values(tmp_path) -> None:
    setup = load_settings(data_dir=tmp_path / "data", secret_key=OLD)
    await store(setup, {"ann": "token-ann", "bob": "token-bob"}, OLD)
    env = {
        "MEDIANEST_SECRET_KEY": NEW,
        "MEDIANEST_PREVIOUS_SECRET_KEYS": json.dumps([OLD]),
    }

    done = await asyncio.to_thread(medianest, tmp_path, "secrets", "rotate", **env)
    assert done.returncode == 0, done.stderr
    assert "ExternalIdentity.credentials_encrypted: 2 re-encrypted, 0 already current" in (
        done.stdout
    )
    assert OLD not in done.stdout + done.stderr and NEW not in done.stdout + done.stderr

    lost = await store(setup, {"carl": "token-carl"}, LOST)
    failed = await asyncio.to_thread(
        medianest, tmp_path, "secrets", "rotate", "--batch-size", "1", **env
    )
    assert failed.returncode == 1
    assert "0 re-encrypted, 2 already current" in failed.stdout
    assert f"1 undecryptable (ids: {lost['carl']})" in failed.stdout
    assert "previous_secret_keys" in failed.stderr
    assert "token-" not in failed.stdout + failed.stderr
