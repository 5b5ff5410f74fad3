"""What the table store promises about conditional writes, against a real Azurite."""

from __future__ import annotations

import pytest

from shared.storage.errors import RowChanged
from shared.storage.rows import Insert, Remove
from shared.storage.table_store import Table


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
