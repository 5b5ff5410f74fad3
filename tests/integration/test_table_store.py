"""What the table store promises about conditional writes and pages, against a real
Azurite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from shared.storage.errors import BadContinuation, RowChanged, TableMissing
from shared.storage.rows import Insert, Remove
from shared.storage.table_store import Table, TableStore


def test_a_row_removed_with_the_etag_it_was_read_with_is_removed_once(fresh_table: Table) -> None:
    fresh_table.commit("p", [Insert("r", {"n": 1})])
    row = fresh_table.get("p", "r")
    assert row is not None
    fresh_table.commit("p", [Remove("r", etag=row.etag)])
    assert fresh_table.get("p", "r") is None
    # The second remover read the same row: it is gone, so it has changed since that read.
    # (azure-data-tables' delete_entity alone would say nothing.)
    with pytest.raises(RowChanged):
        fresh_table.commit("p", [Remove("r", etag=row.etag)])
    fresh_table.commit("p", [Remove("r")])  # without an ETag, removing nothing is fine


def test_a_row_changed_since_it_was_read_is_not_removed(fresh_table: Table) -> None:
    fresh_table.commit("p", [Insert("r", {"n": 1})])
    row = fresh_table.get("p", "r")
    assert row is not None
    fresh_table.commit(
        "p",
        [
            Remove("r"),
        ],
    )
    fresh_table.commit("p", [Insert("r", {"n": 2})])
    with pytest.raises(RowChanged):
        fresh_table.commit("p", [Remove("r", etag=row.etag)])
    assert fresh_table.get("p", "r") is not None


@pytest.mark.parametrize(
    "use",
    [
        lambda t: t.get("p", "r"),
        lambda t: t.commit("p", [Insert("r", {"n": 1})]),
        lambda t: t.commit("p", [Insert("r", {"n": 1}), Insert("s", {"n": 2})]),
        lambda t: t.page("p", "", 10),
        lambda t: list(t.rows_until("p", "n", datetime.now(UTC))),
    ],
    ids=["get", "insert", "transaction", "page", "rows_until"],
)
def test_a_table_that_vanished_is_a_503_once_and_is_there_again_for_the_retry(
    fresh_table: Table, table_store: TableStore, use: Callable[[Table], object]
) -> None:
    # A store restored from an older copy (Azurite killed before it saved) may lack a table
    # this process created: a missing row read as None, an insert as a conflict, or a query as
    # an unexpected error (a 500) would each be wrong until a restart.
    table_store._service.delete_table(fresh_table.name)
    with pytest.raises(TableMissing):
        use(fresh_table)
    use(fresh_table)


def test_a_pages_continuation_continues_its_own_partition_and_no_other(
    fresh_table: Table,
) -> None:
    for partition in ("alice", "bob"):
        fresh_table.commit(partition, [Insert(f"r{n}", {"n": n}) for n in range(3)])
    first = fresh_table.page("bob", "r", 2)
    assert first.continuation is not None
    rest = fresh_table.page("bob", "r", 2, first.continuation)
    assert [row.key for row in first.rows + rest.rows] == ["r0", "r1", "r2"]
    # Bob's token, handed to a listing of Alice's rows, is not one given out for it.
    with pytest.raises(BadContinuation):
        fresh_table.page("alice", "r", 2, first.continuation)
