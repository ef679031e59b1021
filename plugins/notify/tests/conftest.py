"""Fixtures for the notify plugin's tests: real receivers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from notify_testkit import HttpReceiver, SmtpServer, http_receiver, smtp_server


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    """An HTTP receiver on a loopback port, recording every request."""
    async with http_receiver() as running:
        yield running


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpServer]:
    """A plain SMTP server (aiosmtpd) on a loopback port."""
    async with smtp_server() as running:
        yield running


# The repository's PostgreSQL and Redis fixtures (tests/conftest.py), for the scaled-mode test.
from tests.conftest import (  # noqa: E402
    medianest_hub,
    migrated_postgres_url,
    redis_url,
    sqlite_template,
)

__all__ = ["medianest_hub", "migrated_postgres_url", "redis_url", "sqlite_template"]
