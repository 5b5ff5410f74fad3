"""The dialler's country list: what the deck prices and the policy allows, with examples."""

from __future__ import annotations

import pytest

from shared.calling.countries import Country, callable_countries
from shared.calling.destination_policy import PolicySettings, parse_policy_settings
from shared.calling.pricing import Pricing
from shared.calling.rating import SAMPLE_DECK_PATH, RateDeck, load_rate_deck
from shared.config import CallingSettings

pytestmark = pytest.mark.unit

HEADER = "prefix,country,description,per_minute,increments,connect_fee\n"
SAMPLE = load_rate_deck(SAMPLE_DECK_PATH)


def deck(*lines: str) -> RateDeck:
    return RateDeck.from_csv(HEADER + "\n".join(lines))


def regions(countries: tuple[Country, ...]) -> list[str]:
    return [country.region for country in countries]


def test_a_country_comes_with_its_calling_code_and_a_mobile_as_dialled_at_home() -> None:
    countries = {c.region: c for c in callable_countries(SAMPLE, PolicySettings())}
    assert countries["GB"] == Country("GB", 44, "07400 123456")
    assert countries["US"] == Country("US", 1, "(201) 555-0123")
    assert countries["DE"] == Country("DE", 49, "01512 3456789")


def test_the_list_is_sorted_by_region_and_holds_only_countries() -> None:
    found = regions(callable_countries(SAMPLE, PolicySettings()))
    assert found == sorted(found)
    assert len(found) == len(set(found))
    assert all(len(region) == 2 and region.isupper() for region in found)


def test_only_what_the_deck_prices_is_listed() -> None:
    # Russia (+7) is missing from the sample deck, so neither it nor Kazakhstan is callable.
    found = regions(callable_countries(SAMPLE, PolicySettings()))
    assert {"GB", "US", "FR", "JP", "IN"} <= set(found)
    assert not {"RU", "KZ", "CH", "SE"} & set(found)


def test_countries_that_share_a_priced_calling_code_are_callable_too() -> None:
    # +44 prices the Crown Dependencies as the voice webhook would, and no +1 country.
    assert regions(callable_countries(deck("44,GB,UK,0.01,60/1,"), PolicySettings())) == [
        "GB",
        "GG",
        "IM",
        "JE",
    ]


def test_a_country_is_listed_by_its_example_numbers() -> None:
    # UK mobiles only: the UK's example mobile (+44 7400…) is priced; the Isle of Man's
    # (+44 7924…) is a valid UK mobile, filed under GB, so it does not stand for the island.
    assert regions(callable_countries(deck("447,GB,UK mobile,0.03,60/1,"), PolicySettings())) == [
        "GB",
        "GG",
        "JE",
    ]
    # London only: neither UK example (a Birmingham landline, a mobile) is priced.
    assert callable_countries(deck("4420,GB,London,0.01,60/1,"), PolicySettings()) == ()


def test_blocked_countries_and_prefixes_are_not_listed_and_their_neighbours_are() -> None:
    policy = parse_policy_settings("JM,IM", "+33")
    found = set(regions(callable_countries(SAMPLE, policy)))
    assert {"US", "CA", "GB"} <= found
    assert not {"JM", "IM", "FR"} & found


def test_non_geographic_ranges_are_priced_but_are_no_country() -> None:
    assert callable_countries(deck("870,,Inmarsat,5.00,60/60,"), PolicySettings()) == ()


def test_pricing_works_the_list_out_once_per_process() -> None:
    pricing = Pricing.from_settings(CallingSettings(3600, "KP", "", None, 300))
    assert pricing.countries is pricing.countries
    assert "GB" in regions(pricing.countries)
