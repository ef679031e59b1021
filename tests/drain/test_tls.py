"""TLS to Redis (``rediss://`` with ``ssl_ca_certs``) and to PostgreSQL (``sslmode``,
``sslrootcert``), against private servers that accept TLS only: the hub's shared state and
database, and ARQ workers, connect; a server certificate from another CA is refused with an
error that names the setting to fix."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from medianest.core.db.database import Database
from medianest.core.state.backends import open_state
from medianest.core.state.errors import StateUnavailableError
from medianest.sdk.errors import ConfigurationError
from medianest.sdk.jobs import Job, JobContext
from medianest.workers.arq_queue import ArqJobQueue, redis_settings
from medianest.workers.arq_worker import build_worker_settings, run_worker
from tests.drain.servers import make_certificates, tls_postgres, tls_redis

pytestmark = pytest.mark.slow  # starts servers of its own


@pytest.fixture
def certificates(tmp_path):
    return make_certificates(tmp_path / "certs")


@pytest.fixture
def other_ca(tmp_path):
    return make_certificates(tmp_path / "other", name="Somebody else's CA").ca


async def test_hub_state_and_workers_use_redis_over_tls(tmp_path, certificates) -> None:
    with tls_redis(tmp_path, certificates) as port:
        url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={certificates.ca}"
        state = await open_state(url)
        try:
            await state.cache.set("greeting", {"hello": "tls"}, ttl=30)
            assert await state.cache.get("greeting") == {"hello": "tls"}
            async with state.pubsub.subscribe("news") as messages:
                await state.pubsub.publish("news", {"n": 1})
                assert await asyncio.wait_for(anext(aiter(messages)), 5) == {"n": 1}
        finally:
            await state.close()

        ran: list[int] = []

        async def note(ctx: JobContext, number: int) -> None:
            ran.append(number)

        jobs = [Job(name="tls.note", function=note)]
        queue = ArqJobQueue(redis_settings(url), jobs, queue_name="tls-test")
        await queue.start()
        try:
            await queue.enqueue("tls.note", number=7)
        finally:
            await queue.close()

        async def startup(ctx: dict[str, Any]) -> None:
            ctx["hub"] = object()

        settings = build_worker_settings(
            jobs=jobs,
            redis_url=url,
            on_startup=startup,
            queue_name="tls-test",
            handle_signals=False,
        )
        await asyncio.wait_for(run_worker(settings, burst=True), 30)
        assert ran == [7]


async def test_redis_with_a_certificate_from_another_ca_is_refused_naming_the_setting(
    tmp_path, certificates, other_ca
) -> None:
    with tls_redis(tmp_path, certificates) as port:
        with pytest.raises(StateUnavailableError) as refused:
            await open_state(
                f"rediss://127.0.0.1:{port}/0?ssl_cert_reqs=required&ssl_ca_certs={other_ca}"
            )
        message = str(refused.value)
        assert "certificate" in message and "ssl_ca_certs in redis_url" in message


def test_tls_options_need_a_tls_url_and_a_readable_ca(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="rediss://"):
        redis_settings(f"redis://127.0.0.1:6379/0?ssl_ca_certs={tmp_path}/ca.pem")
    with pytest.raises(ConfigurationError, match="ssl_ca_certs file"):
        redis_settings(f"rediss://127.0.0.1:6379/0?ssl_ca_certs={tmp_path}/missing.pem")
    with pytest.raises(ConfigurationError, match="ssl_cert_reqs must be one of"):
        redis_settings("rediss://127.0.0.1:6379/0?ssl_cert_reqs=sometimes")


def postgres_url(port: int, **query: str) -> str:
    params = "&".join(f"{key}={value}" for key, value in query.items())
    return f"postgres://postgres@127.0.0.1:{port}/postgres?{params}"


async def test_the_database_is_reached_over_tls_with_the_servers_ca(certificates) -> None:
    with tls_postgres(certificates) as port:
        for query in (
            {"sslmode": "verify-full", "sslrootcert": str(certificates.ca)},
            {"sslmode": "verify-ca", "sslrootcert": str(certificates.ca)},
            {"sslmode": "require"},
        ):
            database = Database(postgres_url(port, **query))
            await database.open()
            try:
                await database.ping()
            finally:
                await database.close()
        plain = Database(postgres_url(port, sslmode="disable"))
        with pytest.raises(ConfigurationError, match="cannot connect"):
            await plain.open()  # the server refuses connections without TLS


async def test_a_database_certificate_from_another_ca_is_refused_naming_the_setting(
    certificates, other_ca
) -> None:
    with tls_postgres(certificates) as port:
        database = Database(postgres_url(port, sslmode="verify-full", sslrootcert=str(other_ca)))
        with pytest.raises(ConfigurationError) as refused:
            await database.open()
        message = str(refused.value)
        assert "certificate was refused" in message and "sslrootcert in database_url" in message


def test_bad_tls_parameters_in_the_database_url_are_named(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="sslmode must be one of"):
        Database("postgres://postgres@127.0.0.1/medianest?sslmode=sometimes")
    with pytest.raises(ConfigurationError, match=r"sslrootcert .* cannot be read"):
        Database(
            f"postgres://postgres@127.0.0.1/medianest?sslmode=verify-full&sslrootcert={tmp_path}/none.pem"
        )
