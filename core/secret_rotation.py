"""Re-encrypting stored secrets under the current secret key (key rotation).

Every column holding encrypted secrets is listed once, in :data:`ENCRYPTED_COLUMNS`;
:func:`rotate_all` walks them. ``medianest secrets rotate`` is the command that runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tortoise.models import Model

from medianest.core.auth import audit
from medianest.core.db.models import ExternalIdentity
from medianest.core.secrets import SecretBox, UndecryptableSecretError

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    """A text column holding values encrypted with the hub's :class:`SecretBox` (or NULL)."""

    model: type[Model]
    column: str

    @property
    def name(self) -> str:
        """``Model.column``, as reports show it."""
        return f"{self.model.__name__}.{self.column}"


ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn(ExternalIdentity, "credentials_encrypted"),
)
"""Every column of encrypted secrets; a new one is added here and nowhere else."""


@dataclass(slots=True)
class ColumnReport:
    """What rotating one column did: values re-encrypted, already current, changed meanwhile
    (rewritten by the hub during the run, so already current), and ids of rows whose value
    decrypts under no known key (left untouched)."""

    column: str
    rotated: int = 0
    current: int = 0
    changed: int = 0
    undecryptable: list[object] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        text = f"{self.column}: {self.rotated} re-encrypted, {self.current} already current" + (
            f", {self.changed} changed meanwhile" if self.changed else ""
        )
        if self.undecryptable:
            ids = ", ".join(str(i) for i in self.undecryptable)
            text += f", {len(self.undecryptable)} undecryptable (ids: {ids})"
        return text


async def rotate_column(
    column: EncryptedColumn,
    box: SecretBox,
    current: SecretBox,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ColumnReport:
    """Re-encrypt every value of ``column`` that is not under the current key yet.

    Rows are read in primary-key order, ``batch_size`` at a time; see :func:`rotate_value`.

    :param box: the current key and every previous key.
    :param current: the current key only.
    """
    report = ColumnReport(column.name)
    pk = column.model._meta.pk_attr
    last: object | None = None
    while True:
        query = column.model.filter(**{f"{column.column}__isnull": False})
        if last is not None:
            query = query.filter(**{f"{pk}__gt": last})
        rows = await query.order_by(pk).limit(batch_size).values_list(pk, column.column)
        for row_id, value in rows:
            await rotate_value(column, row_id, value, box, current, report)
        if len(rows) < batch_size:
            return report
        last = rows[-1][0]


async def rotate_value(
    column: EncryptedColumn,
    row_id: object,
    value: str,
    box: SecretBox,
    current: SecretBox,
    report: ColumnReport,
) -> None:
    """Re-encrypt ``value``, read from row ``row_id``, unless it is under the current key.

    A value ``current`` decrypts is left as it is, so running again changes nothing. The
    write only replaces ``value`` itself: a row the hub rewrote since it was read is left
    alone (counted as changed meanwhile). The outcome is counted in ``report``.
    """
    try:
        current.decrypt(value)
        report.current += 1
        return
    except UndecryptableSecretError:
        pass
    try:
        rotated = box.rotate(value)
    except UndecryptableSecretError:
        report.undecryptable.append(row_id)
        return
    pk = column.model._meta.pk_attr
    written = await column.model.filter(**{pk: row_id, column.column: value}).update(
        **{column.column: rotated}
    )
    if written:
        report.rotated += 1
    else:
        report.changed += 1


async def rotate_all(
    box: SecretBox,
    current: SecretBox,
    *,
    columns: Sequence[EncryptedColumn] = ENCRYPTED_COLUMNS,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> list[ColumnReport]:
    """Rotate every column of ``columns`` and store a ``secrets.rotated`` audit event (its
    outcome ``failure`` when some value decrypts under no known key). Needs an active
    database.

    :param box: the current key and every previous key.
    :param current: the current key only.
    """
    reports = [
        await rotate_column(column, box, current, batch_size=batch_size) for column in columns
    ]
    await audit.record(
        "secrets.rotated",
        actor_label="cli",
        outcome="failure" if any(r.undecryptable for r in reports) else "success",
        details={
            r.column: {
                "rotated": r.rotated,
                "current": r.current,
                "changed": r.changed,
                "undecryptable": [str(i) for i in r.undecryptable],
            }
            for r in reports
        },
    )
    return reports
