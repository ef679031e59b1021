"""Library sync: the catalogue of every media source's library, kept current by core.

See :mod:`medianest.core.sync.engine` for how runs work, :mod:`.runs` for the run records and
their lock, :mod:`.store` for the database side and :mod:`.jobs` for the schedule.
"""

from medianest.core.sync.engine import SyncEngine, SyncFailedError
from medianest.core.sync.runs import RunKind, Trigger

__all__ = ["RunKind", "SyncEngine", "SyncFailedError", "Trigger"]
