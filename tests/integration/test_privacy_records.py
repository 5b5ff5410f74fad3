"""The policy pages and the record of processing, over HTTP against the local host: generated
from the registry, with this deployment's retention settings filled in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from local_host.azurite import Azurite
from shared.privacy.policy import POLICY_VERSION
from shared.privacy.registry import COOKIES, KINDS, PROCESSORS, Category
from tests.servers import LocalHost


@pytest.fixture(scope="module")
def records_host(azurite: Azurite) -> Iterator[LocalHost]:
    """A host whose retention settings differ from the defaults, so the record must read them."""
    server = LocalHost(
        azurite.connection_string,
        {"CALL_RETENTION_DAYS": "45", "ACCOUNTING_RETENTION_YEARS": "7"},
    ).start()
    yield server
    server.stop()


def _records(host: LocalHost) -> dict:  # type: ignore[type-arg]
    response = requests.get(f"{host.base_url}/api/privacy/records", timeout=10)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    return response.json()  # type: ignore[no-any-return]


def test_the_record_holds_every_kind_processor_and_cookie(records_host: LocalHost) -> None:
    records = _records(records_host)
    assert records["policy_version"] == POLICY_VERSION
    assert [g["category"] for g in records["categories"]] == [c.value for c in Category]
    listed = [r["name"] for g in records["categories"] for r in g["records"]]
    assert sorted(listed) == sorted(k.name for k in KINDS)
    assert [p["name"] for p in records["processors"]] == [p.name for p in PROCESSORS]
    assert [t["to"] for t in records["transfers"]] == [p.name for p in PROCESSORS]
    assert [c["name"] for c in records["cookies"]] == [c.name for c in COOKIES]
    call = next(r for g in records["categories"] for r in g["records"] if r["name"] == "call")
    assert call["basis"] == "Contract"
    assert {"name": "to", "holds": "the number dialled, E.164"} in call["fields"]


def test_the_record_says_this_deployments_retention(records_host: LocalHost) -> None:
    kinds = {r["name"]: r for g in _records(records_host)["categories"] for r in g["records"]}
    assert kinds["call"]["retention"].startswith("45 days from the call's start")
    assert "kept 7 years" in kinds["ledger_entry"]["retention"]
    assert kinds["ledger_entry"]["deletion"] == "pseudonymise"
    assert kinds["profile"]["deletion"] == "erase"


def test_the_policy_pages_are_served_at_their_addresses(records_host: LocalHost) -> None:
    policy = requests.get(f"{records_host.base_url}/privacy", timeout=10)
    assert policy.status_code == 200
    assert "<h1>Privacy policy</h1>" in policy.text
    assert "frame-ancestors 'none'" in policy.headers["Content-Security-Policy"]
    records = requests.get(f"{records_host.base_url}/privacy/records", timeout=10)
    assert records.status_code == 200
    assert "<h1>Record of processing</h1>" in records.text
