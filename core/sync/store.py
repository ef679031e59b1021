"""Writing synced pages into the catalogue, one transaction per batch, on either database.

A batch is committed together with the run's new position (cursor, counters, heartbeat), so
a run resumed after a crash starts exactly after the last committed batch: nothing is lost
and nothing counted twice. The update of the run row is guarded by the lease owner, so a
worker that lost its lease cannot write over the one that took the run over.

Both read the stored digests of the batch's items first (one ``= ANY`` query on PostgreSQL,
a few ``IN (...)`` queries on SQLite), so unchanged items are never written, then:

- PostgreSQL: ``COPY`` of the new and changed rows into a temporary staging table, and one
  ``INSERT ... ON CONFLICT`` merge.
- SQLite: ``executemany`` inserts and updates, in the same transaction.

Full syncs record every item id they saw in ``core_sync_seen`` (keyed by run); at the end
the items of the source that were not seen are deleted in one statement.

Admin overrides survive syncs: a batch that wrote rows then lays the source's overrides back
over the columns they correct (title, year, external ids), in one statement that touches only
rows differing from their override. With no override for the source it finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from medianest.core.db import Database
from medianest.core.db.overrides import ROW_FIELDS
from medianest.core.db.records import COLUMNS, DATETIME_COLUMNS, Record

_SQLITE_CHUNK = 500
"""Item ids per ``IN (...)`` lookup on SQLite."""


class LeaseLostError(Exception):
    """Another worker took the run over (this one was too slow to renew its lease)."""


class DeletionRefusedError(Exception):
    """A full sync would delete more of a source's catalogue than allowed."""


@dataclass(frozen=True, slots=True)
class BatchPosition:
    """Where a run stands once a batch is committed: stored on its row with the batch."""

    run_id: int
    owner: str
    pages: int
    errors: int
    cursor: str | None
    checkpoint: str | None
    total: int | None
    now: datetime


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch changed in the catalogue."""

    inserted: int
    updated: int

    @property
    def written(self) -> int:
        return self.inserted + self.updated


class CatalogueWriter(Protocol):
    """The dialect-specific part of a sync: batches, deletions, the seen set."""

    async def write_batch(
        self, records: Sequence[Record], position: BatchPosition, *, track_seen: bool
    ) -> BatchResult:
        """Merge ``records`` (one per item id) and advance the run, in one transaction.

        :raises LeaseLostError: the run is no longer this owner's; nothing was written.
        """
        ...

    async def delete_unseen(
        self, source: str, run_id: int, owner: str, max_fraction: float, now: datetime
    ) -> int:
        """Delete the source's items the run did not see and close the run as succeeded.

        :raises DeletionRefusedError: more than ``max_fraction`` of the items would go.
        :raises LeaseLostError: the run is no longer this owner's; nothing was deleted.
        """
        ...

    async def forget_seen(self, run_id: int) -> None:
        """Drop the run's seen set (the run ended)."""
        ...


def writer_for(database: Database) -> CatalogueWriter:
    """The catalogue writer for ``database``'s dialect."""
    if database.dialect == "postgres":
        return PostgresWriter(database)
    return SqliteWriter(database)


def _refusal(source: str, doomed: int, stored: int, max_fraction: float) -> DeletionRefusedError:
    return DeletionRefusedError(
        f"the full sync of {source} would delete {doomed} of its {stored} catalogue items "
        f"({doomed / stored:.0%}, more than sync.max_delete_fraction = {max_fraction:g}); "
        "nothing was deleted. If the library is only unreachable (a disk not mounted), fix "
        "that and sync again; if the items really went, raise sync.max_delete_fraction."
    )


def _too_many(doomed: int, stored: int, max_fraction: float) -> bool:
    return doomed > 0 and doomed > max_fraction * stored


_RUN_ADVANCE = (
    "UPDATE core_sync_run SET pages = pages + {p}, items_seen = items_seen + {p}, "
    "inserted = inserted + {p}, updated = updated + {p}, errors = {p}, cursor = {p}, "
    "checkpoint = COALESCE({p}, checkpoint), total = COALESCE({p}, total), heartbeat_at = {p} "
    "WHERE id = {p} AND owner = {p} AND status = 'running'"
)
_RUN_SUCCEEDED = (
    "UPDATE core_sync_run SET deleted = {p}, status = 'succeeded', finished_at = {p}, "
    "heartbeat_at = {p}, owner = NULL WHERE id = {p} AND owner = {p} AND status = 'running'"
)


def _override_reapply(placeholder: str, distinct: str) -> str:
    """The statement laying a source's overrides over its catalogue rows where they differ.

    :param distinct: the null-safe "differs" operator of the dialect.
    """
    columns = ", ".join(f"{c} = COALESCE(o.{c}, m.{c})" for c in ROW_FIELDS)
    differs = " OR ".join(f"(o.{c} IS NOT NULL AND m.{c} {distinct} o.{c})" for c in ROW_FIELDS)
    return (
        f"UPDATE core_library_item AS m SET {columns} FROM core_media_override AS o "
        f"WHERE o.source = {placeholder} AND m.source = o.source AND m.item_id = o.item_id "
        f"AND ({differs})"
    )


def _numbered(template: str) -> str:
    """``template`` with asyncpg's ``$1, $2, ...`` placeholders."""
    parts = template.split("{p}")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], start=1)) + parts[-1]


class PostgresWriter:
    """Stored digests looked up per batch; new and changed rows COPYed and merged at once."""

    _DIGESTS = (
        "SELECT item_id, content_hash FROM core_library_item "
        "WHERE source = $1 AND item_id = ANY($2::varchar[])"
    )
    # The JSON travels as text (cheaper to COPY) and becomes jsonb in the merge.
    _STAGE = (
        "CREATE TEMPORARY TABLE IF NOT EXISTS core_sync_stage ("
        "source varchar(100), item_id varchar(255), kind varchar(16), title text, year int, "
        "parent_id varchar(255), number int, imdb varchar(16), tmdb int, tvdb int, "
        "youtube varchar(64), added_at timestamptz, updated_at timestamptz, "
        "synced_at timestamptz, content_hash varchar(32), data text) ON COMMIT DELETE ROWS"
    )
    _MERGE = (
        f"INSERT INTO core_library_item AS m ({', '.join(COLUMNS)}) "
        f"SELECT {', '.join(c if c != 'data' else 'data::jsonb' for c in COLUMNS)} "
        "FROM core_sync_stage ON CONFLICT (source, item_id) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS if c not in ("source", "item_id"))
        + " WHERE m.content_hash <> EXCLUDED.content_hash RETURNING (xmax = 0) AS inserted"
    )
    _SEEN = "INSERT INTO core_sync_seen (run_id, item_id) SELECT $1, unnest($2::varchar[])"
    _OVERRIDES = _override_reapply("$1", "IS DISTINCT FROM")
    _ADVANCE = _numbered(_RUN_ADVANCE)
    _SUCCEEDED = _numbered(_RUN_SUCCEEDED)
    _UNSEEN = (
        "FROM core_library_item m WHERE m.source = $1 AND NOT EXISTS "
        "(SELECT 1 FROM core_sync_seen s WHERE s.run_id = $2 AND s.item_id = m.item_id)"
    )

    def __init__(self, database: Database) -> None:
        self._database = database

    def _connection(self) -> Any:
        return self._database.connection.acquire_connection()

    async def write_batch(
        self, records: Sequence[Record], position: BatchPosition, *, track_seen: bool
    ) -> BatchResult:
        ids = [r.item_id for r in records]
        async with self._connection() as connection, connection.transaction():
            result = BatchResult(inserted=0, updated=0)
            if records:
                stored = dict(await connection.fetch(self._DIGESTS, records[0].values[0], ids))
                # Only what is new or changed is sent and merged: an unchanged item costs
                # one digest comparison, and ON CONFLICT never locks (writes) its row.
                changed = [r.values for r in records if stored.get(r.item_id) != r.content_hash]
                if changed:
                    await connection.execute(self._STAGE)
                    await connection.copy_records_to_table(
                        "core_sync_stage", records=changed, columns=COLUMNS
                    )
                    rows = await connection.fetch(self._MERGE)
                    inserted = sum(1 for row in rows if row[0])
                    result = BatchResult(inserted=inserted, updated=len(rows) - inserted)
                    if rows:
                        await connection.execute(self._OVERRIDES, records[0].values[0])
                if track_seen:
                    await connection.execute(self._SEEN, position.run_id, ids)
            status = await connection.execute(
                self._ADVANCE,
                position.pages,
                len(records),
                result.inserted,
                result.updated,
                position.errors,
                position.cursor,
                position.checkpoint,
                position.total,
                position.now,
                position.run_id,
                position.owner,
            )
            if status != "UPDATE 1":
                raise LeaseLostError(f"run {position.run_id} is no longer ours")
        return result

    async def delete_unseen(
        self, source: str, run_id: int, owner: str, max_fraction: float, now: datetime
    ) -> int:
        async with self._connection() as connection, connection.transaction():
            stored = await connection.fetchval(
                "SELECT count(*) FROM core_library_item WHERE source = $1", source
            )
            doomed: int = await connection.fetchval(
                f"SELECT count(*) {self._UNSEEN}", source, run_id
            )
            if _too_many(doomed, stored, max_fraction):
                raise _refusal(source, doomed, stored, max_fraction)
            if doomed:
                status = await connection.execute(
                    f"DELETE FROM core_library_item WHERE id IN (SELECT m.id {self._UNSEEN})",
                    source,
                    run_id,
                )
                doomed = int(status.rsplit(" ", 1)[1])
            status = await connection.execute(self._SUCCEEDED, doomed, now, now, run_id, owner)
            if status != "UPDATE 1":
                raise LeaseLostError(f"run {run_id} is no longer ours")
        return doomed

    async def forget_seen(self, run_id: int) -> None:
        async with self._connection() as connection:
            await connection.execute("DELETE FROM core_sync_seen WHERE run_id = $1", run_id)


def _sqlite_values(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        str(v) if name in DATETIME_COLUMNS and v is not None else v
        for name, v in zip(COLUMNS, values, strict=True)
    )


class SqliteWriter:
    """Batched ``executemany`` in one transaction; digests read per chunk of ids."""

    _INSERT = (
        f"INSERT INTO core_library_item ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in COLUMNS)})"
    )
    _UPDATE_COLUMNS = tuple(c for c in COLUMNS if c not in ("source", "item_id"))
    _UPDATE = (
        "UPDATE core_library_item SET "
        + ", ".join(f"{c} = ?" for c in _UPDATE_COLUMNS)
        + " WHERE source = ? AND item_id = ?"
    )
    _SEEN = "INSERT OR IGNORE INTO core_sync_seen (run_id, item_id) VALUES (?, ?)"
    _OVERRIDES = _override_reapply("?", "IS NOT")
    _ADVANCE = _RUN_ADVANCE.replace("{p}", "?")
    _SUCCEEDED = _RUN_SUCCEEDED.replace("{p}", "?")
    _UNSEEN = (
        "FROM core_library_item WHERE source = ? AND NOT EXISTS "
        "(SELECT 1 FROM core_sync_seen s WHERE s.run_id = ? "
        "AND s.item_id = core_library_item.item_id)"
    )

    def __init__(self, database: Database) -> None:
        self._database = database

    async def write_batch(
        self, records: Sequence[Record], position: BatchPosition, *, track_seen: bool
    ) -> BatchResult:
        source = records[0].values[0] if records else None
        with self._database.activate():
            async with in_transaction(self._database.dialect) as tx:
                stored: dict[str, str] = {}
                ids = [r.item_id for r in records]
                for start in range(0, len(ids), _SQLITE_CHUNK):
                    chunk = ids[start : start + _SQLITE_CHUNK]
                    _, rows = await tx.execute_query(
                        "SELECT item_id, content_hash FROM core_library_item "
                        f"WHERE source = ? AND item_id IN ({', '.join('?' for _ in chunk)})",
                        [source, *chunk],
                    )
                    stored.update((row[0], row[1]) for row in rows)
                inserts = [_sqlite_values(r.values) for r in records if r.item_id not in stored]
                updates = [
                    (*_sqlite_values(r.values)[2:], source, r.item_id)
                    for r in records
                    if r.item_id in stored and stored[r.item_id] != r.content_hash
                ]
                if inserts:
                    await tx.execute_many(self._INSERT, inserts)  # type: ignore[arg-type]  # rows as tuples
                if updates:
                    await tx.execute_many(self._UPDATE, updates)  # type: ignore[arg-type]  # as above
                if inserts or updates:
                    await tx.execute_query(self._OVERRIDES, [source])
                if track_seen and records:
                    await tx.execute_many(self._SEEN, [[position.run_id, i] for i in ids])
                changed, _ = await tx.execute_query(
                    self._ADVANCE,
                    [
                        position.pages,
                        len(records),
                        len(inserts),
                        len(updates),
                        position.errors,
                        position.cursor,
                        position.checkpoint,
                        position.total,
                        str(position.now),
                        position.run_id,
                        position.owner,
                    ],
                )
                if changed != 1:
                    raise LeaseLostError(f"run {position.run_id} is no longer ours")
        return BatchResult(inserted=len(inserts), updated=len(updates))

    async def delete_unseen(
        self, source: str, run_id: int, owner: str, max_fraction: float, now: datetime
    ) -> int:
        with self._database.activate():
            async with in_transaction(self._database.dialect) as tx:
                _, rows = await tx.execute_query(
                    "SELECT count(*) FROM core_library_item WHERE source = ?", [source]
                )
                stored = rows[0][0]
                _, rows = await tx.execute_query(
                    f"SELECT count(*) {self._UNSEEN}", [source, run_id]
                )
                doomed: int = rows[0][0]
                if _too_many(doomed, stored, max_fraction):
                    raise _refusal(source, doomed, stored, max_fraction)
                if doomed:
                    # Counted above, in this transaction: the driver's change count would
                    # include the search index's own rows.
                    await tx.execute_query(f"DELETE {self._UNSEEN}", [source, run_id])
                changed, _ = await tx.execute_query(
                    self._SUCCEEDED, [doomed, str(now), str(now), run_id, owner]
                )
                if changed != 1:
                    raise LeaseLostError(f"run {run_id} is no longer ours")
        return doomed

    async def forget_seen(self, run_id: int) -> None:
        with self._database.activate():
            await self._database.connection.execute_query(
                "DELETE FROM core_sync_seen WHERE run_id = ?", [run_id]
            )
