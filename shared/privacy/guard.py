"""The storage guard: refuses to write a record kind or a field the registry does not declare.

Bootstrap gives it to the table store, so every write of the app passes through it: a new
kind of row, or a new property on one, fails (in the test suite first) until the registry says
what it is, why it is kept, for how long, and what export and deletion do with it.
"""

from __future__ import annotations

from shared.privacy.registry import kind_of
from shared.storage.rows import Op, Remove


class UndeclaredRecord(Exception):
    """Code tried to store something shared.privacy.registry does not declare."""


def check_write(table: str, op: Op) -> None:
    kind = kind_of(table, op.key)
    if kind is None:
        raise UndeclaredRecord(
            f"Table {table!r} row {op.key[:40]!r} is of no kind the privacy registry declares."
        )
    if isinstance(op, Remove):
        return
    unknown = sorted(set(op.data) - set(kind.fields))
    if unknown:
        raise UndeclaredRecord(
            f"The privacy registry does not declare {', '.join(unknown)} on {kind.name} rows."
        )
