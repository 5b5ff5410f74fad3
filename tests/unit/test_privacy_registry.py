"""The privacy registry and its storage guard."""

from __future__ import annotations

import pytest

from shared.config import PrivacySettings, SessionSettings
from shared.privacy.guard import UndeclaredRecord, check_write
from shared.privacy.registry import (
    KINDS,
    Category,
    OnDeletion,
    kind_of,
    setting_values,
)
from shared.storage import keys
from shared.storage.rows import Insert, Remove, Replace, Touch


def test_every_row_key_finds_its_kind() -> None:
    assert kind_of(keys.ACCOUNTS_TABLE, keys.call_key("CA1")).name == "call"  # type: ignore[union-attr]
    history = keys.call_history_key(1, "CA1")
    assert kind_of(keys.ACCOUNTS_TABLE, history).name == "call_history"  # type: ignore[union-attr]
    assert kind_of(keys.ACCOUNTS_TABLE, keys.PROFILE_KEY).name == "profile"  # type: ignore[union-attr]
    assert kind_of(keys.OPEN_CALLS_TABLE, "u1:CA1").name == "open_call"  # type: ignore[union-attr]
    assert kind_of(keys.ACCOUNTS_TABLE, "profile2") is None
    assert kind_of("elsewhere", keys.PROFILE_KEY) is None


def test_kind_names_and_places_are_unique() -> None:
    assert len({k.name for k in KINDS}) == len(KINDS)
    assert len({(k.table, k.row_key, k.prefix) for k in KINDS}) == len(KINDS)


def test_every_kind_is_fully_described() -> None:
    values = setting_values(PrivacySettings(), SessionSettings(30 * 86400, 7 * 86400, 600))
    for kind in KINDS:
        assert kind.fields, kind.name
        assert kind.purpose, kind.name
        assert kind.deletion_note, kind.name
        assert kind.export_note, kind.name
        assert "{" not in kind.retention.describe(values), kind.name
        assert kind.category in Category
        if kind.deletion is OnDeletion.PSEUDONYMISE:
            assert set(kind.pseudonymised) <= set(kind.fields), kind.name


def test_the_guard_lets_declared_writes_through() -> None:
    check_write(keys.ACCOUNTS_TABLE, Insert(keys.PROFILE_KEY, {"email": "a@b.c", "name": "A"}))
    check_write(keys.ACCOUNTS_TABLE, Touch(keys.session_key("s1"), {"last_call_at": None}))
    check_write(keys.ACCOUNTS_TABLE, Remove(keys.call_key("CA1")))


def test_the_guard_refuses_an_undeclared_field() -> None:
    with pytest.raises(UndeclaredRecord, match="birthday on profile"):
        check_write(keys.ACCOUNTS_TABLE, Replace(keys.PROFILE_KEY, {"birthday": "1 May"}))


def test_the_guard_refuses_an_undeclared_kind() -> None:
    with pytest.raises(UndeclaredRecord, match="no kind"):
        check_write(keys.ACCOUNTS_TABLE, Insert("notes:1", {"text": "hello"}))
    with pytest.raises(UndeclaredRecord, match="no kind"):
        check_write("diary", Remove("anything"))
