"""Checks and policies shared by both job runners: registration, arguments, back-off."""

from __future__ import annotations

import pickle
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from medianest.core.backoff import RetryPolicy as RetryPolicy  # where the job runners find it
from medianest.sdk.errors import ConfigurationError, NotFoundError
from medianest.sdk.jobs import JOB_NAME_PATTERN, Cron, Job

_NAME = re.compile(JOB_NAME_PATTERN)
_CRON_RANGES = {
    "month": (1, 12),
    "day": (1, 31),
    "weekday": (0, 6),
    "hour": (0, 23),
    "minute": (0, 59),
    "second": (0, 59),
}


def index_jobs(jobs: Iterable[Job]) -> dict[str, Job]:
    """The jobs by name, once each is checked.

    :raises ConfigurationError: a name is malformed or used twice, ``max_tries`` is below 1,
        ``timeout_seconds`` is not positive, or a cron field is out of range.
    """
    index: dict[str, Job] = {}
    for job in jobs:
        if not _NAME.match(job.name):
            raise ConfigurationError(
                f"job name {job.name!r} must look like '<plugin key>.<job>' ({JOB_NAME_PATTERN})"
            )
        if job.name in index:
            raise ConfigurationError(f"duplicate job name: {job.name!r} is registered twice")
        if job.max_tries < 1:
            raise ConfigurationError(f"job {job.name!r}: max_tries must be 1 or more")
        if not job.timeout_seconds > 0:
            raise ConfigurationError(f"job {job.name!r}: timeout_seconds must be positive")
        if job.cron is not None:
            _check_cron(job.name, job.cron)
        index[job.name] = job
    return index


def _check_cron(name: str, cron: Cron) -> None:
    for field, (low, high) in _CRON_RANGES.items():
        value = getattr(cron, field)
        values = {value} if isinstance(value, int) else (value or set())
        bad = sorted(v for v in values if not low <= v <= high)
        if bad:
            raise ConfigurationError(
                f"job {name!r}: cron {field} must be within {low}..{high}, got {bad}"
            )


def cron_fields(cron: Cron) -> dict[str, Any]:
    """The schedule of ``cron`` as the keyword arguments of ``arq.cron``."""
    return {field: getattr(cron, field) for field in _CRON_RANGES}


def lookup(index: Mapping[str, Job], name: str) -> Job:
    """The job registered as ``name``.

    :raises NotFoundError: no job of that name is registered.
    """
    try:
        return index[name]
    except KeyError:
        raise NotFoundError(f"no job named {name!r} is registered") from None


def checked_arguments(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Copies of a job's arguments, as a worker in another process would receive them.

    Both runners accept the same arguments: anything picklable (ARQ's serialisation),
    keyword names not starting with ``_`` (ARQ reserves those).

    :raises TypeError: an argument cannot be pickled.
    :raises ValueError: a keyword argument starts with ``_``.
    """
    reserved = sorted(k for k in kwargs if k.startswith("_"))
    if reserved:
        raise ValueError(f"job {name!r}: keyword arguments may not start with '_': {reserved}")
    try:
        payload = pickle.dumps((args, kwargs))
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise TypeError(f"job {name!r}: arguments must be picklable: {exc}") from exc
    copied: tuple[tuple[Any, ...], dict[str, Any]] = pickle.loads(payload)  # noqa: S301 - bytes made just above
    return copied


def new_job_id() -> str:
    """A fresh job id (the same form ARQ uses)."""
    return uuid.uuid4().hex
