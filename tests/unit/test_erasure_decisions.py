"""The erasure's decisions, without storage: which kinds it reaches, how the books are cut,
the order of its steps, and the answer it gives."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.privacy.erasure import STEPS, Summary
from shared.privacy.linked_rows import LINKED_KINDS
from shared.privacy.pseudonyms import (
    is_pseudonym,
    kept_until,
    new_pseudonym,
    pseudonymised,
)
from shared.privacy.registry import KINDS, Linked, OnDeletion, RecordKind, kind_named
from shared.storage.keys import ACCOUNTS_TABLE
from shared.storage.rows import Row

CALL = Row(
    "call:CA1",
    {"to": "+442079460018", "country": "GB", "rate_prefix": "44", "description": "UK landline"},
)


def call_of(sid: str) -> Row | None:
    return CALL if sid == "CA1" else None


@pytest.mark.parametrize("kind", [k for k in KINDS if k.deletion is OnDeletion.ERASE])
def test_every_erased_kind_can_be_found_from_the_user(kind: RecordKind) -> None:
    assert kind.linked is Linked.USER or kind.name in LINKED_KINDS


@pytest.mark.parametrize("kind", [k for k in KINDS if k.deletion is OnDeletion.PSEUDONYMISE])
def test_every_pseudonymised_kind_is_moved_or_repointed(kind: RecordKind) -> None:
    moved = kind.linked is Linked.USER and kind.table == ACCOUNTS_TABLE
    assert moved or kind.name == "payment_owner"


@pytest.mark.parametrize("kind", [k for k in KINDS if k.pseudonymised])
def test_every_personal_field_the_registry_names_has_a_rule(kind: RecordKind) -> None:
    row = Row("x", {name: "{}" if name == "details" else "something" for name in kind.fields})
    data = pseudonymised(kind, row, call_of)
    assert set(data) <= set(kind.fields)


def test_a_call_charge_keeps_its_sid_country_and_prefix_never_the_number() -> None:
    details = {
        "call_sid": "CA1",
        "country": "GB",
        "destination": "UK landline",
        "duration_seconds": 61,
        "to": "+442079460018",
    }
    entry = Row("ledger:CA1", {"kind": "call_charge", "details": json.dumps(details)})
    cut = pseudonymised(kind_named("ledger_entry"), entry, call_of)
    assert json.loads(str(cut["details"])) == {
        "call_sid": "CA1",
        "country": "GB",
        "rate_prefix": "44",
    }
    assert "2079460018" not in json.dumps(cut)


def test_a_call_charge_whose_call_row_is_gone_keeps_what_its_details_said_of_the_country() -> None:
    details = {"call_sid": "CA2", "country": "FR", "to": "+33142685300"}
    entry = Row("journal:1", {"kind": "call_charge", "details": json.dumps(details)})
    cut = pseudonymised(kind_named("journal_row"), entry, call_of)
    assert json.loads(str(cut["details"])) == {"call_sid": "CA2", "country": "FR"}


def test_stripe_references_are_kept_as_they_are() -> None:
    details = '{"payment_intent":"pi_1","refund":"re_1"}'
    entry = Row("ledger:re_1", {"kind": "refund", "details": details, "amount_micros": -5})
    cut = pseudonymised(kind_named("ledger_entry"), entry, call_of)
    assert cut == {"kind": "refund", "details": details, "amount_micros": -5}


def test_a_payment_loses_its_card_brand_and_last_four() -> None:
    payment = Row("payment:pi_1", {"card_brand": "visa", "card_last4": "4242", "paid": True})
    assert pseudonymised(kind_named("payment"), payment, call_of) == {"paid": True}


def test_cutting_is_the_same_every_time_a_deletion_runs_again() -> None:
    entry = Row("ledger:CA1", {"kind": "call_charge", "details": '{"call_sid":"CA1"}'})
    kind = kind_named("ledger_entry")
    assert pseudonymised(kind, entry, call_of) == pseudonymised(kind, entry, call_of)


def test_a_pseudonym_is_random_and_recognisable() -> None:
    first, second = new_pseudonym(), new_pseudonym()
    assert first != second
    assert is_pseudonym(first)
    assert not is_pseudonym("u" + first[1:])


def test_the_books_are_kept_to_the_day_and_a_29th_of_february_to_the_28th() -> None:
    assert kept_until(datetime(2026, 12, 2, 8, tzinfo=UTC), 10) == datetime(
        2036, 12, 2, 8, tzinfo=UTC
    )
    assert kept_until(datetime(2028, 2, 29, tzinfo=UTC), 10) == datetime(2038, 2, 28, tzinfo=UTC)


def test_the_steps_run_in_the_order_that_makes_each_repeatable() -> None:
    order = {name: i for i, name in enumerate(STEPS)}
    # Calls are blocked first; owners point at the books before they move, so a refund
    # meanwhile is redelivered onto them; the books move while the call rows still say the
    # country and prefix; sessions go late, so the user's own retry still works, and the
    # sweep after them catches what those sessions wrote meanwhile.
    assert STEPS[0] == "block"
    assert order["payment_owners"] < order["books"] < order["twilio_calls"] < order["erase"]
    assert order["erase"] < order["sessions"]
    assert STEPS[-2:] == ("sessions", "sweep")


def test_the_answer_says_what_was_erased_and_what_is_kept_why_and_until_when() -> None:
    profile, ledger = kind_named("profile"), kind_named("ledger_entry")
    summary = Summary(
        erased=((profile, 1),),
        kept=((ledger, 4),),
        kept_until=datetime(2036, 12, 2, 8, tzinfo=UTC),
        twilio_call_logs_deleted=True,
        twilio_calls=3,
    )
    assert summary.to_json() == {
        "deleted": True,
        "already_deleted": False,
        "erased": [{"kind": "profile", "title": "Profile", "count": 1}],
        "kept": [
            {
                "kind": "ledger_entry",
                "title": "Ledger entry",
                "count": 4,
                "why": ledger.deletion_note,
                "kept_until": "2036-12-02",
            }
        ],
        "twilio_call_logs": {"deleted": True, "count": 3},
    }
