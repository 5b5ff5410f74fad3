"""The export's file formats, pure: a stored value as JSON, an amount as a decimal string, and
CSV cells that a spreadsheet never runs as a formula. No storage and no ZIP here."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from shared.money.micros import MICROS_PER_UNIT
from shared.privacy.registry import RecordKind

JsonValue = str | int | bool | None

# Cells a spreadsheet reads as a formula (or, for tab and CR, that some shift into one):
# OWASP's "CSV injection" list.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A plain number is never a formula, so negative amounts ("-18750", "-0.018750") stay numbers.
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_MICROS_SUFFIX = "_micros"


def json_value(value: object) -> JsonValue:
    """A stored value as JSON: times as ISO 8601 (UTC when storage gave none), the rest as is;
    anything storage could hand back that JSON has no type for, as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return str(value)


def decimal_text(micros: int) -> str:
    """Micros as an exact decimal string in the currency's units: -18750 -> "-0.018750"."""
    whole, fraction = divmod(abs(micros), MICROS_PER_UNIT)
    return f"{'-' if micros < 0 else ''}{whole}.{fraction:06d}"


def decimal_name(field_name: str) -> str | None:
    """Where an amount's decimal string goes beside its micros: amount_micros -> amount (and the
    balance's bare `micros` -> amount); None for a field that is not an amount."""
    if field_name == "micros":
        return "amount"
    if field_name.endswith(_MICROS_SUFFIX):
        return field_name.removesuffix(_MICROS_SUFFIX)
    return None


def exported_row(
    kind: RecordKind, key: str, data: Mapping[str, object], partition: str | None = None
) -> dict[str, JsonValue]:
    """One stored row as data.json shows it: its key(s), every stored field but the kind's
    export_omits, and beside each amount in micros its decimal string."""
    shown: dict[str, JsonValue] = {}
    if partition is not None:
        shown["partition_key"] = partition
    shown["row_key"] = key
    for name, value in data.items():
        if name in kind.export_omits:
            continue
        shown[name] = json_value(value)
        decimal = decimal_name(name)
        if decimal is not None and isinstance(value, int) and not isinstance(value, bool):
            shown[decimal] = decimal_text(value)
    return shown


def csv_columns(kind: RecordKind) -> list[str]:
    """The header of a kind's CSV file: the row key, then its declared fields in the registry's
    order (each amount followed by its decimal column), its export_omits left out."""
    columns = ["row_key"]
    for name in kind.fields:
        if name in kind.export_omits:
            continue
        columns.append(name)
        decimal = decimal_name(name)
        if decimal is not None:
            columns.append(decimal)
    return columns


def csv_cells(columns: Sequence[str], row: Mapping[str, JsonValue]) -> list[str]:
    return [safe_cell(row.get(column)) for column in columns]


def safe_cell(value: JsonValue) -> str:
    """A CSV cell that a spreadsheet shows as text, never evaluates: one starting with = + - @
    (or a tab or CR) gets a leading apostrophe, unless it is a plain number. So a phone number
    "+442079460018" is written "'+442079460018" and the amount -18750 stays -18750."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text
