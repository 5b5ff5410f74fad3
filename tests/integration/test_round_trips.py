"""Every operation at its storage floor, counted from outside: the round trips the edge
reports (an azure-core policy counting each request the table clients send) for one of each
operation, played as the browser, Twilio and Stripe play them.

A change that adds a round trip to an operation fails here. A request that loses a race on an
ETag pays one more per retry; these requests meet none (one user, one request at a time).
"""

from __future__ import annotations

import pytest
import requests

from shared.storage.round_trips import ROUND_TRIPS_HEADER
from shared.storage.table_store import TableStore
from tests.round_trips import FLOORS, Caller, Cost, cost_of, costs_of_one_each
from tests.servers import LocalHost


@pytest.fixture(scope="module")
def costs(host: LocalHost, table_store: TableStore) -> dict[str, Cost]:
    caller = Caller(host.base_url, table_store)
    costs_of_one_each(caller)  # the first of each warms the process (tables made once)
    return costs_of_one_each(caller)


@pytest.mark.parametrize("floor", FLOORS, ids=[floor.operation for floor in FLOORS])
def test_each_operation_is_at_its_storage_floor(floor, costs: dict[str, Cost]) -> None:
    cost = costs[floor.operation]
    assert cost.rounds == floor.floor, (
        f"{floor.operation}: {cost.rounds} round trips ({cost.requests} requests), "
        f"floor {floor.floor} ({floor.why})"
    )


def test_answers_that_need_no_storage_report_none(host: LocalHost) -> None:
    # Public data from the settings, and a refusal made before any row is read.
    countries = requests.get(f"{host.base_url}/api/countries", timeout=30)
    anonymous = requests.get(f"{host.base_url}/api/balance", timeout=30)
    assert anonymous.status_code == 401
    for response in (countries, anonymous):
        assert response.headers[ROUND_TRIPS_HEADER] == "0; requests=0"


def test_a_redelivered_final_report_reads_once_and_writes_nothing(
    host: LocalHost, table_store: TableStore
) -> None:
    call = Caller(host.base_url, table_store).call()
    call.status("completed", 3, duration=61)
    again = cost_of(call.status("completed", 3, duration=61))
    # The call, balance and hold read together find the call settled: nothing more.
    assert (again.rounds, again.requests) == (1, 3)
