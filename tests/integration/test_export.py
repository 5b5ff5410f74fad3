"""GET /api/me/export through the local host over HTTP: a user with a row of every kind the
registry links to an account gets every one of them back, field for field, and the export is
refused without a fresh sign-in, past its hourly limit and while storage is down."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from local_host.azurite import Azurite
from shared.identity.sessions import Sessions
from shared.privacy.export_files import json_value
from shared.privacy.registry import KINDS, Linked, RecordKind, kind_of
from shared.storage.keys import ACCOUNTS_TABLE, CONSENT_PREFIX
from shared.storage.rows import Insert
from shared.storage.table_store import TableStore
from tests.conftest import Client, StripeWebhooks
from tests.integration import test_caller_id
from tests.integration.test_caller_id import a_mobile, verify
from tests.integration.test_calling import LONDON, Twilio, answered_call, make_accounts
from tests.integration.test_credit import paid
from tests.servers import LocalHost
from tests.storage_proxy import StorageProxy
from tests.twilio_caller_ids_fake import FakeCallerIds

CSV_FILES = {"calls.csv", "ledger.csv", "payments.csv", "sessions.csv"}
# The caller-ID tests' fake of Twilio's caller-ID API and the host that talks to it, shared so
# that a verification runs here as it does there.
fake_twilio = test_caller_id.fake_twilio
callerid_host = test_caller_id.callerid_host


def export(client: Client) -> requests.Response:
    return client.get("/api/me/export")


def archive_of(response: requests.Response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.text
    return zipfile.ZipFile(io.BytesIO(response.content))


def stored_rows(table_store: TableStore, kind: RecordKind, user_id: str) -> dict[str, Any]:
    """The user's rows of a kind in their own partition, by RowKey, as stored."""
    table = table_store.table(kind.table)
    return {
        row.key: dict(row.data)
        for row in table.rows(user_id, kind.row_key)
        if kind_of(kind.table, row.key) is kind
    }


def assert_is_problem(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["detail"]
    return body


def test_the_export_holds_every_kind_of_record_of_the_user_field_for_field(
    callerid_host: LocalHost, fake_twilio: FakeCallerIds, table_store: TableStore, fund: Any
) -> None:
    alice = make_accounts(callerid_host.base_url, table_store, fund)()
    twilio = Twilio(callerid_host.base_url)
    # Credit bought through the Stripe sandbox: a payment, its owner row, a checkout.
    paid(alice.client, StripeWebhooks(callerid_host.base_url))
    # A call placed and settled through signed Twilio webhooks: call, history, charge.
    answered_call(twilio, twilio.voice(alice.identity, LONDON), 75)
    # A verified caller ID: the user's record and the ownership index row.
    verify(alice, fake_twilio, a_mobile())
    # A call still up: the hold and the open-calls index.
    twilio.voice(alice.identity, LONDON)
    # Consent has no endpoint of this branch: a choice written as the consent work stores it.
    table_store.table(ACCOUNTS_TABLE).commit(
        alice.user_id,
        [
            Insert(
                CONSENT_PREFIX + "0001",
                {
                    "analytics": False,
                    "gpc": True,
                    "policy_version": "2026-11",
                    "changed_at": datetime.now(UTC),
                    "source": "banner",
                },
            )
        ],
    )

    response = export(alice.client)
    archive = archive_of(response)
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    today = datetime.now(UTC).date().isoformat()
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="ownnumber-export-{today}.zip"'
    )
    assert set(archive.namelist()) == {"data.json", "README.txt", *CSV_FILES}
    # Every file is dated with the export (zipfile alone would say 1 January 1980).
    assert {info.date_time[:3] for info in archive.infolist()} == {
        tuple(int(part) for part in today.split("-"))
    }
    data = json.loads(archive.read("data.json"))
    assert data["schema"] == "ownnumber.export/1"
    assert data["user_id"] == alice.user_id
    datetime.fromisoformat(data["exported_at"])
    sections = data["sections"]
    linked = [k for k in KINDS if k.export_section and k.linked is not Linked.NONE]
    assert set(sections) == {k.export_section for k in KINDS if k.export_section}
    for kind in linked:
        rows = sections[kind.export_section]
        assert rows, f"{kind.name} is missing from the export"
        for shown in rows:
            if kind.linked is Linked.USER:
                stored = stored_rows(table_store, kind, alice.user_id)[shown["row_key"]]
            else:
                row = table_store.table(kind.table).get(shown["partition_key"], shown["row_key"])
                assert row is not None
                stored = dict(row.data)
                assert stored["user_id"] == alice.user_id
            for name, value in stored.items():
                if name in kind.export_omits:
                    assert name not in shown
                else:
                    assert shown[name] == json_value(value), (kind.name, name)
        if kind.linked is Linked.USER:
            assert len(rows) == len(stored_rows(table_store, kind, alice.user_id)), kind.name
    assert "secret_hash" not in json.dumps(sections["sessions"])
    [balance] = sections["balance"]
    assert balance["amount"] == f"{balance['micros'] / 1_000_000:.6f}"
    charge = next(e for e in sections["ledger"] if e["kind"] == "call_charge")
    assert charge["amount_micros"] < 0
    assert charge["amount"].startswith("-0.")

    calls = list(csv.reader(io.StringIO(archive.read("calls.csv").decode(), newline="")))
    header = calls[0]
    assert header[:3] == ["row_key", "call_sid", "user_id"]
    assert len(calls) == 1 + len(sections["calls"])
    # A phone number starts with +: written as text, never as a formula.
    assert {row[header.index("to")] for row in calls[1:]} == {"'" + LONDON}
    ledger = list(csv.reader(io.StringIO(archive.read("ledger.csv").decode(), newline="")))
    amounts = [row[ledger[0].index("amount_micros")] for row in ledger[1:]]
    assert str(charge["amount_micros"]) in amounts  # a negative number stays a number
    assert archive.read("calls.csv").count(b"\r\n") == len(calls)
    readme = archive.read("README.txt").decode()
    for processor in ("Google", "Microsoft", "Twilio", "Stripe"):
        assert processor in readme
    assert "180 days" in readme  # CALL_RETENTION_DAYS, from the live settings
    assert "'+442079460018" in readme


def test_an_export_needs_a_session(client: Client) -> None:
    assert_is_problem(export(Client(client.base_url)), 401)


def test_an_export_needs_a_fresh_sign_in(client: Client, table_store: TableStore) -> None:
    alice = client.sign_in()
    sessions = Sessions(
        table_store.table(ACCOUNTS_TABLE),
        absolute=timedelta(days=30),
        idle=timedelta(days=7),
        reauth_max_age=timedelta(minutes=10),
    )
    token, _ = sessions.start(alice["user_id"], signed_in_at=datetime.now(UTC) - timedelta(hours=1))
    stale = Client(client.base_url)
    stale.http.cookies.set("ownnumber_session", token)
    assert stale.get("/api/me").status_code == 200
    body = assert_is_problem(export(stale), 401)
    assert body["code"] == "reauth_required"


def test_exports_past_the_hourly_limit_are_429_with_retry_after(signed_in: Client) -> None:
    for _ in range(3):  # EXPORTS_PER_USER_PER_HOUR of the sample settings
        archive_of(export(signed_in))
    refused = export(signed_in)
    body = assert_is_problem(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 3601
    assert "this hour" in body["detail"]


@pytest.fixture
def behind_proxy(azurite: Azurite) -> Iterator[tuple[LocalHost, StorageProxy]]:
    proxy = StorageProxy(azurite.port)
    host = LocalHost(proxy.connection_string).start()
    yield host, proxy
    host.stop()
    proxy.close()


def test_an_export_while_storage_is_down_is_a_503_with_retry_after(
    behind_proxy: tuple[LocalHost, StorageProxy],
) -> None:
    host, proxy = behind_proxy
    alice = Client(host.base_url)
    alice.sign_in()
    proxy.close()  # connections to storage are refused from now on
    response = export(alice)
    assert_is_problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0


def test_the_export_limit_is_per_user(
    new_client: Callable[[], Client],
) -> None:
    first, second = new_client(), new_client()
    first.sign_in()
    second.sign_in()
    for _ in range(3):
        archive_of(export(first))
    assert export(first).status_code == 429
    archive_of(export(second))
