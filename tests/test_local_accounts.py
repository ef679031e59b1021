"""Local accounts: argon2id passwords, the ``local`` sign-in method, and account creation.

Hub tests run on SQLite (embedded) and on PostgreSQL + Redis (scaled).
"""

from __future__ import annotations

import asyncio
import os
import re
import select
import subprocess
import time
from collections.abc import AsyncIterator

import pytest
from argon2 import PasswordHasher

from medianest.core.auth import local, passwords
from medianest.core.db.models import AuditEvent, ExternalIdentity, User
from medianest.core.users import complete_sign_in
from medianest.sdk.errors import ConflictError, InvalidInputError
from medianest.sdk.models import Identity
from tests.cli_helpers import MEDIANEST, clean_environment, medianest

KEY = "local-accounts-test-secret-key-0123456789"
PASSWORD = "correct horse battery staple"
SIGN_IN = "/api/v1/auth/providers/local/sign-in"
WEAK_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


class CountingHasher(PasswordHasher):
    """A hasher that counts the verifications it does against real argon2id hashes."""

    verifications = 0

    def verify(self, hash, password) -> bool:
        if str(hash).startswith("$argon2id$"):
            CountingHasher.verifications += 1
        return super().verify(hash, password)


# passwords -----------------------------------------------------------------------------------


def test_a_hash_is_salted_argon2id_and_verifies() -> None:
    first, second = passwords.hash_password(PASSWORD), passwords.hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and first != second
    assert PASSWORD not in first
    assert passwords.verify(first, PASSWORD)
    assert not passwords.verify(first, PASSWORD + "!")


def test_no_hash_or_a_broken_one_is_refused_after_the_same_work(monkeypatch) -> None:
    monkeypatch.setattr(passwords, "_hasher", CountingHasher())
    CountingHasher.verifications = 0
    assert passwords.verify(None, PASSWORD) is False
    assert passwords.verify("not-a-hash", PASSWORD) is False
    assert CountingHasher.verifications == 2


def test_hashes_with_weaker_parameters_need_rehashing() -> None:
    assert passwords.needs_rehash(WEAK_HASHER.hash(PASSWORD))
    assert not passwords.needs_rehash(passwords.hash_password(PASSWORD))
    assert passwords.needs_rehash("not-a-hash")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pw", "at least 12 characters"),
        (" " * 12, "only spaces"),
        ("Administrator", "not be the username"),
        ("x" * 5000, "at most 4096"),
    ],
)
def test_weak_passwords_are_refused_saying_why(password, reason) -> None:
    with pytest.raises(InvalidInputError, match=reason) as caught:
        passwords.check_strength(password, username="administrator")
    assert caught.value.field == "password"


def test_twelve_characters_are_enough() -> None:
    passwords.check_strength("a" * 12, username="admin")


# the sign-in method --------------------------------------------------------------------------


@pytest.fixture
async def running(medianest_hub, mode) -> AsyncIterator:
    async with medianest_hub.run(**mode | {"secret_key": KEY}) as hub:
        with hub.hub.database.activate():
            yield hub


async def sign_in(running, username: str, password: str):
    response = await running.client.post(
        SIGN_IN, json={"credentials": {"username": username, "password": password}}
    )
    return response, await response.get_json()


async def test_local_accounts_are_always_offered(running) -> None:
    body = await (await running.client.get("/api/v1/auth/providers")).get_json()
    assert {"id": "local", "name": "Local account", "flow": "credentials"} in body["items"]


async def test_a_local_account_signs_in_as_itself(running) -> None:
    admin = await local.create_account("admin", PASSWORD)
    response, body = await sign_in(running, "admin", PASSWORD)
    assert response.status_code == 200, body
    assert body["provider"] == "local"
    assert body["user"]["id"] == admin.id and body["user"]["role"] == "admin"
    assert await User.all().count() == 1, "signing in never makes a second user"
    assert (await User.get(id=admin.id)).last_sign_in_at is not None


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", "wrong password here"), ("nobody", PASSWORD), ("", PASSWORD), ("admin", "")],
)
async def test_wrong_credentials_are_refused_alike(running, username, password) -> None:
    await local.create_account("admin", PASSWORD)
    response, body = await sign_in(running, username, password)
    assert response.status_code == 403
    assert body["detail"] == "wrong username or password"


async def test_only_local_accounts_sign_in_with_a_password(running) -> None:
    plex_user = await complete_sign_in(
        Identity(provider="plex", external_id="7", username="ann"), running.hub.secrets
    )
    plex_user.password_hash = passwords.hash_password(PASSWORD)
    await plex_user.save()
    response, body = await sign_in(running, "ann", PASSWORD)
    assert response.status_code == 403 and body["detail"] == "wrong username or password"


async def test_a_deactivated_account_is_told_so_only_with_the_right_password(running) -> None:
    admin = await local.create_account("admin", PASSWORD)
    await User.filter(id=admin.id).update(is_active=False)
    response, body = await sign_in(running, "admin", "not the password!")
    assert body["detail"] == "wrong username or password"
    response, body = await sign_in(running, "admin", PASSWORD)
    assert response.status_code == 403 and "deactivated" in body["detail"]


async def test_an_old_hash_is_upgraded_at_sign_in(running) -> None:
    admin = await local.create_account("admin", PASSWORD)
    await User.filter(id=admin.id).update(password_hash=WEAK_HASHER.hash(PASSWORD))
    response, _ = await sign_in(running, "admin", PASSWORD)
    assert response.status_code == 200
    upgraded = (await User.get(id=admin.id)).password_hash
    assert not passwords.needs_rehash(upgraded) and passwords.verify(upgraded, PASSWORD)


# creating accounts ---------------------------------------------------------------------------


async def test_a_new_account_is_an_admin_with_a_local_identity(running) -> None:
    admin = await local.create_account("  root.admin  ", PASSWORD)
    assert (admin.username, admin.role, admin.is_active) == ("root.admin", "admin", True)
    assert sorted(admin.permissions) == ["request", "search"]
    link = await ExternalIdentity.get(user_id=admin.id)
    assert (link.provider, link.external_id) == ("local", str(admin.id))
    _, rows = await running.hub.database.connection.execute_query(
        "SELECT password_hash FROM core_user"
    )
    assert rows[0]["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in rows[0]["password_hash"]


async def test_a_taken_username_is_refused_in_any_letter_case(running) -> None:
    await local.create_account("admin", PASSWORD)
    with pytest.raises(ConflictError, match="'admin' exists already"):
        await local.create_account("ADMIN", PASSWORD)


@pytest.mark.parametrize(
    ("username", "field"),
    [("", "username"), ("-dash", "username"), ("a b", "username"), ("x" * 151, "username")],
)
async def test_unsuitable_usernames_are_refused(running, username, field) -> None:
    with pytest.raises(InvalidInputError) as caught:
        await local.create_account(username, PASSWORD)
    assert caught.value.field == field
    assert await User.all().count() == 0


async def test_a_weak_password_creates_nothing(running) -> None:
    with pytest.raises(InvalidInputError, match="at least 12"):
        await local.create_account("admin", "short")
    assert await User.all().count() == 0


# medianest users create-admin ----------------------------------------------------------------


def environment(mode: dict) -> dict[str, str]:
    """The ``mode`` settings as the environment variables the command reads."""
    return {f"MEDIANEST_{name.upper()}": str(value) for name, value in mode.items()}


def prepared(tmp_path, mode: dict) -> dict[str, str]:
    """The environment of a hub whose database is migrated (scaled mode does not migrate)."""
    env = environment(mode)
    upgraded = medianest(tmp_path, "db", "upgrade", **env)
    assert upgraded.returncode == 0, upgraded.stderr
    return env


def create_admin(tmp_path, env: dict, *args: str, stdin: str):
    return subprocess.run(
        [*MEDIANEST, "users", "create-admin", *args],
        cwd=tmp_path,
        env=clean_environment(tmp_path, **env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,
    )


@pytest.mark.slow  # runs a process of its own
async def test_create_admin_then_sign_in_with_it(tmp_path, mode, medianest_hub) -> None:
    env = await asyncio.to_thread(prepared, tmp_path, mode)
    created = await asyncio.to_thread(
        create_admin,
        tmp_path,
        env,
        "--username",
        "owner",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    assert "created admin 'owner'" in created.stdout
    assert PASSWORD not in created.stdout + created.stderr
    listed = await asyncio.to_thread(medianest, tmp_path, "users", "list", **env)
    assert re.search(r"owner\s.*admin\s.*yes\s.*local\s.*never", listed.stdout), listed.stdout

    async with medianest_hub.run(data_dir=tmp_path / "data", **mode) as running:
        response, body = await sign_in(running, "owner", PASSWORD)
        assert response.status_code == 200, body
        assert body["user"]["role"] == "admin"
        with running.hub.database.activate():
            event = await AuditEvent.get(action="user.created")
    assert (event.actor, event.target) == ("cli", f"user:{body['user']['id']}")
    assert event.details == {"username": "owner", "role": "admin", "via": "local"}


@pytest.mark.parametrize(
    ("args", "stdin", "reason"),
    [
        (["--username", "owner", "--password-stdin"], "too-short\n", "at least 12 characters"),
        (["--username", "owner", "--password-stdin"], "", "no password on standard input"),
        (["--username", "bad name", "--password-stdin"], PASSWORD, "may hold letters"),
        (["--password-stdin"], PASSWORD, "--password-stdin needs --username"),
        (["--username", "owner"], PASSWORD, "pass --username and --password-stdin"),
    ],
)
@pytest.mark.slow  # runs a process of its own
def test_create_admin_refuses_bad_input_with_status_2(tmp_path, args, stdin, reason) -> None:
    result = create_admin(tmp_path, {}, *args, stdin=stdin)
    assert result.returncode == 2, result.stderr
    assert reason in result.stderr and "Traceback" not in result.stderr
    assert "too-short" not in result.stdout + result.stderr


@pytest.mark.slow  # runs a process of its own
def test_create_admin_refuses_a_taken_username(tmp_path) -> None:
    first = create_admin(tmp_path, {}, "--username", "owner", "--password-stdin", stdin=PASSWORD)
    assert first.returncode == 0, first.stderr
    again = create_admin(tmp_path, {}, "--username", "Owner", "--password-stdin", stdin=PASSWORD)
    assert again.returncode == 2
    assert "a user called 'owner' exists already" in again.stderr


class Terminal:
    """``medianest ARGS`` on a pseudo-terminal of its own, answered prompt by prompt."""

    def __init__(self, tmp_path, *args: str) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(
            [*MEDIANEST, *args],
            cwd=tmp_path,
            env=clean_environment(tmp_path),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.output = ""

    def answer(self, prompt: str, text: str) -> None:
        """Wait for ``prompt`` to be shown, then type ``text`` and Enter."""
        deadline = time.monotonic() + 30
        while prompt not in self.output:
            assert time.monotonic() < deadline, f"no prompt {prompt!r} in {self.output!r}"
            self._read(0.5)
        self.output = self.output.split(prompt, 1)[1]
        os.write(self.master, text.encode() + b"\r")

    def finish(self) -> tuple[int, str]:
        """The exit status and everything shown after the last answer."""
        status = self.process.wait(timeout=60)
        while self._read(0.1):
            pass
        os.close(self.master)
        return status, self.output

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 4096)
        except OSError:  # the other side closed
            return False
        self.output += data.decode(errors="replace")
        return bool(data)


@pytest.mark.slow  # runs a process of its own
def test_create_admin_asks_twice_without_echo(tmp_path) -> None:
    terminal = Terminal(tmp_path, "users", "create-admin")
    terminal.answer("Username:", "owner")
    terminal.answer("Password:", PASSWORD)
    terminal.answer("Repeat the password:", PASSWORD)
    status, shown = terminal.finish()
    assert status == 0, shown
    assert "created admin 'owner'" in shown and PASSWORD not in shown


@pytest.mark.slow  # runs a process of its own
def test_create_admin_refuses_two_different_passwords(tmp_path) -> None:
    terminal = Terminal(tmp_path, "users", "create-admin")
    terminal.answer("Username:", "owner")
    terminal.answer("Password:", PASSWORD)
    terminal.answer("Repeat the password:", PASSWORD + "?")
    status, shown = terminal.finish()
    assert status == 2 and "the two passwords differ" in shown
