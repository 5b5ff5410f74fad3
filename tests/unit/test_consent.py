"""Consent decisions without servers: each change is a new row, newest first, with its time and
the policy version; Global Privacy Control is a refusal however the request asks; the body of
a PUT is checked with a sentence; and the adapters answer as the runtime calls them."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import azure.functions as func
import pytest

from functions import _edge, consent, privacy_cookies
from shared.config import load_settings
from shared.errors import InvalidInput
from shared.privacy.consent import (
    NO_CHOICE,
    ConsentRequest,
    Consents,
    Source,
    parse_consent_request,
)
from shared.privacy.guard import check_write
from shared.privacy.policy import POLICY_VERSION
from shared.privacy.registry import COOKIES
from shared.storage.keys import ACCOUNTS_TABLE, CONSENT_PREFIX
from shared.storage.rows import Insert, Op, Page, Row
from shared.storage.table_store import Table
from tests.servers import SAMPLE_SETTINGS

USER = "u" + "ab" * 16
START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class Partition:
    """One account partition in memory, in key order as Table Storage keeps it, through the
    privacy guard as bootstrap wires the real store."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def commit(self, partition: str, ops: Sequence[Op]) -> None:
        for op in ops:
            check_write(ACCOUNTS_TABLE, op)
            assert isinstance(op, Insert)
            assert op.key not in self.rows
            self.rows[op.key] = Row(op.key, op.data)

    def page(
        self, partition: str, prefix: str, limit: int, continuation: str | None = None
    ) -> Page:
        found = sorted(key for key in self.rows if key.startswith(prefix))
        return Page([self.rows[key] for key in found[:limit]])


def ticking() -> Iterator[datetime]:
    moment = START
    while True:
        yield moment
        moment += timedelta(seconds=1)


def consents(table: Partition) -> Consents:
    clock = ticking()
    return Consents(cast(Table, table), clock=lambda: next(clock))


def test_before_any_choice_analytics_is_off_and_nothing_was_chosen() -> None:
    choice = consents(Partition()).current(USER)
    assert choice == NO_CHOICE
    assert (choice.analytics, choice.changed_at, choice.source) == (False, None, None)
    assert choice.policy_version == POLICY_VERSION


def test_each_change_is_its_own_row_and_the_newest_is_in_force() -> None:
    table = Partition()
    book = consents(table)
    book.record(USER, ConsentRequest(True, Source.BANNER), gpc=False)
    book.record(USER, ConsentRequest(False, Source.ACCOUNT), gpc=False)
    book.record(USER, ConsentRequest(True, Source.ACCOUNT), gpc=False)

    assert len(table.rows) == 3
    assert all(key.startswith(CONSENT_PREFIX) for key in table.rows)
    newest_first = [table.rows[key].data for key in sorted(table.rows)]
    assert [row["analytics"] for row in newest_first] == [True, False, True]
    assert [row["changed_at"] for row in newest_first] == [
        START + timedelta(seconds=2),
        START + timedelta(seconds=1),
        START,
    ]
    assert {row["policy_version"] for row in newest_first} == {POLICY_VERSION}
    now = book.current(USER)
    assert (now.analytics, now.source, now.changed_at) == (
        True,
        Source.ACCOUNT,
        START + timedelta(seconds=2),
    )


def test_two_choices_in_one_microsecond_are_both_kept() -> None:
    table = Partition()
    book = Consents(cast(Table, table), clock=lambda: START)
    book.record(USER, ConsentRequest(True, Source.BANNER), gpc=False)
    book.record(USER, ConsentRequest(False, Source.BANNER), gpc=False)
    assert len(table.rows) == 2


def test_gpc_stores_a_refusal_whatever_the_request_asked() -> None:
    table = Partition()
    choice = consents(table).record(USER, ConsentRequest(True, Source.BANNER), gpc=True)
    assert (choice.analytics, choice.gpc) == (False, True)
    (row,) = table.rows.values()
    assert (row.data["analytics"], row.data["gpc"]) == (False, True)


def test_gpc_today_outranks_a_consent_of_yesterday() -> None:
    book = consents(Partition())
    book.record(USER, ConsentRequest(True, Source.BANNER), gpc=False)
    assert book.current(USER).analytics
    read_under_gpc = book.current(USER).under_gpc(True)
    assert (read_under_gpc.analytics, read_under_gpc.gpc) == (False, True)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "'analytics' is required"),
        ({"analytics": "yes", "source": "banner"}, "must be true or false"),
        ({"analytics": 1, "source": "banner"}, "must be true or false"),
        ({"analytics": True}, "'source' is required"),
        ({"analytics": True, "source": "email"}, "'banner' or 'account'"),
        ({"analytics": True, "source": ["banner"]}, "'banner' or 'account'"),
    ],
)
def test_a_bad_body_is_refused_with_a_sentence(body: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        parse_consent_request(body)


def test_a_good_body_names_the_choice_and_where_it_was_made() -> None:
    assert parse_consent_request({"analytics": False, "source": "account"}) == ConsentRequest(
        False, Source.ACCOUNT
    )


@pytest.fixture
def sandbox_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The edge with the sample settings and no storage at all: these requests never reach it."""
    values = dict(json.loads(SAMPLE_SETTINGS.read_text())["Values"])
    deps = SimpleNamespace(settings=load_settings(values))
    monkeypatch.setattr(_edge, "services", lambda: deps)


def call(function: Any, req: func.HttpRequest) -> func.HttpResponse:
    response: func.HttpResponse = function.build().get_user_function()(req)
    return response


@pytest.mark.usefixtures("sandbox_settings")
def test_the_consent_endpoints_need_a_session() -> None:
    for function, method in ((consent.consent, "GET"), (consent.change_consent, "PUT")):
        req = func.HttpRequest(method, "http://127.0.0.1/api/me/consent", body=b"")
        response = call(function, req)
        assert response.status_code == 401
        assert json.loads(response.get_body())["title"] == "Not signed in"


@pytest.mark.usefixtures("sandbox_settings")
def test_a_put_from_another_site_is_refused_before_anything_else() -> None:
    req = func.HttpRequest(
        "PUT",
        "http://127.0.0.1/api/me/consent",
        headers={"Origin": "https://evil.example"},
        body=b'{"analytics": true, "source": "banner"}',
    )
    assert call(consent.change_consent, req).status_code == 403


def test_the_cookie_list_is_the_registrys() -> None:
    req = func.HttpRequest("GET", "http://127.0.0.1/api/privacy/cookies", body=b"")
    response = call(privacy_cookies.privacy_cookies, req)
    assert response.status_code == 200
    listed = json.loads(response.get_body())["cookies"]
    assert [c["name"] for c in listed] == [c.name for c in COOKIES]
    assert listed[0].keys() == {"name", "set_by", "storage", "necessary", "purpose", "lifetime"}
    assert [(c["necessary"], c["purpose"]) for c in listed] == [
        (c.necessary, c.purpose) for c in COOKIES
    ]
