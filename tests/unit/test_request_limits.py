"""The per-instance limits (shared.limits.window, .requests), the client address they count
(shared.limits.client_address), and the checkout limits on the balance row (.purchases)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from shared.config import LimitSettings
from shared.errors import Forbidden
from shared.limits.client_address import UNKNOWN, client_address
from shared.limits.errors import LimitReached
from shared.limits.purchases import COUNT_FIELD, FirstPurchaseTooLarge, count_checkout, counted
from shared.limits.requests import Action, RequestLimits
from shared.limits.window import WindowCounter
from shared.money.ledger import HAS_PURCHASED

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_limit_in_a_window_and_then_the_wait_until_it_frees() -> None:
    clock = Clock()
    counter = WindowCounter(limit=2, window_seconds=60, clock=clock)
    assert counter.hit("a") is None
    clock.now += 10
    assert counter.hit("a") is None
    clock.now += 0.5
    assert counter.hit("a") == 50  # the window began at the first hit, 10.5 s ago
    assert counter.hit("b") is None  # per key
    clock.now += 49.5
    assert counter.hit("a") is None  # a new window


def test_memory_is_bounded_expired_windows_go_and_the_oldest_is_forgotten_past_the_cap() -> None:
    clock = Clock()
    counter = WindowCounter(limit=1, window_seconds=60, max_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        counter.hit(key)
    counter.hit("d")
    assert len(counter) == 3
    assert counter.hit("a") is None  # forgotten: it starts afresh
    assert counter.hit("d") is not None  # still counted
    clock.now += 61
    counter.hit("e")
    assert len(counter) == 1


def test_threads_counting_at_once_never_let_one_more_through() -> None:
    counter = WindowCounter(limit=100, window_seconds=60)
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(50):
            result = counter.hit("k") is None
            with lock:
                allowed.append(result)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 100


def test_the_request_limits_say_which_limit_and_when_it_frees() -> None:
    limits = RequestLimits(LimitSettings(tokens_per_ip_per_hour=1, rates_per_user_per_minute=1))
    limits.check_address(Action.TOKEN, "203.0.113.5")
    with pytest.raises(LimitReached) as refused:
        limits.check_address(Action.TOKEN, "203.0.113.5")
    assert str(refused.value) == (
        "Too many calling tokens from your network: at most 1 in an hour; try again in 60 minutes."
    )
    assert 3590 <= refused.value.retry_after_seconds <= 3600
    limits.check_address(Action.TOKEN, "203.0.113.6")  # another address
    limits.check_user(Action.RATES, "u-1")
    with pytest.raises(LimitReached, match="price look-ups from your account: at most 1 in a"):
        limits.check_user(Action.RATES, "u-1")
    # Per user, an export is counted in storage, not here.
    for _ in range(5):
        limits.check_user(Action.EXPORT, "u-1")


@pytest.mark.parametrize(
    ("header", "counted_as"),
    [
        # The client's own entries are on the left; Azure appends the peer it saw.
        ("198.51.100.7, 203.0.113.5", "203.0.113.5"),
        ("203.0.113.5, 10.1.2.3", "203.0.113.5"),
        # Static Web Apps adds a private hop of its own after the client's address.
        ("8.23.191.142:52987, [fd00::d63d:e0b8:bc35:12be:2e17:f3af]:64909", "8.23.191.142"),
        ("[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"),
        ("2a00:1450:4009:81f::200e", "2a00:1450:4009:81f::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("127.0.0.1", "127.0.0.1"),  # the local host: no public entry, the right-most
        ("not an address, 127.0.0.1", "127.0.0.1"),
        ("", UNKNOWN),
        (None, UNKNOWN),
        ("garbage", UNKNOWN),
    ],
)
def test_the_client_address_is_the_right_most_entry_outside_private_ranges(
    header: str | None, counted_as: str
) -> None:
    assert client_address(header) == counted_as


def test_a_client_cannot_choose_its_address_by_sending_the_header() -> None:
    spoofed = client_address("1.2.3.4, 203.0.113.5")
    assert spoofed == client_address("5.6.7.8, 203.0.113.5") == "203.0.113.5"


NOW = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
PURCHASES = LimitSettings(first_purchase_max_micros=20_000_000, checkouts_per_user_per_hour=2)


def test_a_new_account_may_not_buy_more_than_the_first_purchase_limit() -> None:
    with pytest.raises(FirstPurchaseTooLarge) as refused:
        count_checkout({}, PURCHASES, 25_000_000, "USD", NOW)
    assert str(refused.value) == (
        "A first purchase can be at most 20.00 USD; once it is credited, you can buy larger packs."
    )
    assert isinstance(refused.value, Forbidden)
    assert count_checkout({}, PURCHASES, 20_000_000, "USD", NOW)[COUNT_FIELD] == 1
    # Once a purchase is credited, the ledger marks the row: no first-purchase limit.
    assert count_checkout({HAS_PURCHASED: True}, PURCHASES, 25_000_000, "USD", NOW)


def test_checkouts_an_hour_are_counted_and_the_hour_rolls_over() -> None:
    fields = count_checkout({}, PURCHASES, 5_000_000, "USD", NOW)
    fields = count_checkout(fields, PURCHASES, 5_000_000, "USD", NOW)
    with pytest.raises(LimitReached) as refused:
        count_checkout(fields, PURCHASES, 5_000_000, "USD", NOW)
    assert "started 2 purchases this hour" in str(refused.value)
    assert "11:00 UTC" in str(refused.value)
    assert refused.value.retry_after_seconds == 1800
    # Counted without refusal when Stripe has opened the checkout already.
    assert counted(fields, PURCHASES, NOW, enforce=False)[COUNT_FIELD] == 3
    later = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
    assert count_checkout(fields, PURCHASES, 5_000_000, "USD", later)[COUNT_FIELD] == 1
