"""The export's formats and its coverage of the registry, without servers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.config import PrivacySettings, SessionSettings
from shared.privacy.export import exported_kinds, readme_text
from shared.privacy.export_files import (
    csv_columns,
    decimal_name,
    decimal_text,
    exported_row,
    json_value,
    safe_cell,
)
from shared.privacy.linked_rows import LINKED_KINDS
from shared.privacy.registry import KINDS, PROCESSORS, Linked, kind_named, setting_values


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+442079460018", "'+442079460018"),
        ("-1+2", "'-1+2"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("-18750", "-18750"),
        ("-0.018750", "-0.018750"),
        (-18750, "-18750"),
        ("United Kingdom landline", "United Kingdom landline"),
        (True, "true"),
        (None, ""),
    ],
)
def test_cells_that_a_spreadsheet_would_run_start_with_an_apostrophe(
    value: str | int | bool | None, cell: str
) -> None:
    assert safe_cell(value) == cell


@pytest.mark.parametrize(
    ("micros", "text"),
    [(0, "0.000000"), (18_750, "0.018750"), (-18_750, "-0.018750"), (5_000_000, "5.000000")],
)
def test_amounts_are_exact_decimal_strings(micros: int, text: str) -> None:
    assert decimal_text(micros) == text


def test_rows_show_times_as_iso_amounts_twice_and_never_the_omitted_fields() -> None:
    session = kind_named("session")
    naive = datetime(2026, 12, 1, 10, 0)
    shown = exported_row(session, "session:x", {"secret_hash": "h", "created_at": naive})
    assert shown == {"row_key": "session:x", "created_at": "2026-12-01T10:00:00+00:00"}
    entry = exported_row(kind_named("ledger_entry"), "ledger:e", {"amount_micros": -5})
    assert entry["amount_micros"] == -5
    assert entry["amount"] == "-0.000005"
    assert json_value(b"\x00") == "b'\\x00'"


def test_every_kind_keyed_by_something_else_is_one_the_export_can_find() -> None:
    exported_elsewhere = {
        kind.name for kind in exported_kinds() if kind.linked is Linked.USER_FIELD
    }
    assert exported_elsewhere == LINKED_KINDS


def test_the_csv_files_are_the_four_lists_of_the_users_own_partition() -> None:
    files = {kind.export_csv: kind for kind in KINDS if kind.export_csv}
    assert set(files) == {"calls.csv", "ledger.csv", "payments.csv", "sessions.csv"}
    assert all(kind.linked is Linked.USER and kind.export_section for kind in files.values())
    assert "secret_hash" not in csv_columns(kind_named("session"))


def test_no_decimal_column_collides_with_a_stored_field() -> None:
    for kind in KINDS:
        decimals = {decimal_name(name) for name in kind.fields} - {None}
        assert not decimals & set(kind.fields), kind.name


def test_the_readme_names_every_section_its_retention_and_every_processor() -> None:
    settings = setting_values(
        PrivacySettings(call_retention_days=30), SessionSettings(86400, 7200, 600)
    )
    text = readme_text("u1", datetime(2026, 12, 2, tzinfo=UTC), settings)
    for kind in exported_kinds():
        assert f"{kind.export_section} (" in text
    for processor in PROCESSORS:
        assert processor.name in text
        assert processor.how_to_ask in text
    assert "30 days" in text
    assert "{" not in text.replace('{"', "")  # every {SETTING} filled in
