from __future__ import annotations

import re

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from shared.calling.destination_policy import (
    BlockedDestination,
    Destination,
    DestinationRefused,
    EmergencyNumberRefused,
    HighRiskNumberRefused,
    InvalidNumber,
    PolicySettings,
    PremiumRateRefused,
    SharedCostRefused,
    check_destination,
    dialling_region,
    parse_policy_settings,
    typed_number,
)
from shared.errors import InvalidInput

pytestmark = pytest.mark.unit

NO_BLOCKS = PolicySettings()
# Jamaica shares +1 with the US, and the Isle of Man +44 with the UK: blocking them must not
# block their neighbours.
OPERATOR_BLOCKS = parse_policy_settings("JM,IM", "+882,+4916")
FULL_WIDTH = {ord(c): ord(c) + 0xFEE0 for c in "+0123456789"}


@pytest.mark.parametrize(
    ("raw", "default_region", "refusal", "code"),
    [
        ("", None, InvalidNumber, "invalid_number"),
        ("hello", None, InvalidNumber, "invalid_number"),
        ("1-800-FLOWERS", "US", InvalidNumber, "invalid_number"),
        ("+1 201 555 0123 ext. 5", None, InvalidNumber, "invalid_number"),
        ("+" + "1" * 80, None, InvalidNumber, "invalid_number"),
        ("+44 20 79", None, InvalidNumber, "invalid_number"),  # too short
        ("+44 7700 900123", None, InvalidNumber, "invalid_number"),  # Ofcom's drama range
        ("020 7946 0018", None, InvalidNumber, "invalid_number"),  # national, no region
        ("+1 900 234 5678", None, PremiumRateRefused, "premium_rate"),
        ("+44 909 879 0000", None, PremiumRateRefused, "premium_rate"),
        # UK 084/087 "service charge" numbers: phonenumbers files them as premium rate.
        ("+44 845 123 4567", None, PremiumRateRefused, "premium_rate"),
        ("+979 1 2345 6789", None, PremiumRateRefused, "premium_rate"),  # international
        ("+49 180 1 2345", None, SharedCostRefused, "shared_cost"),
        ("+34 901 12 34 56", None, SharedCostRefused, "shared_cost"),
        ("+61 1300 123 456", None, SharedCostRefused, "shared_cost"),
        ("+44 76 4012 3456", None, HighRiskNumberRefused, "high_risk_type"),  # pager
        ("+44 55 1234 5678", None, HighRiskNumberRefused, "high_risk_type"),  # UAN
        ("+44 70 1234 5678", None, HighRiskNumberRefused, "high_risk_type"),  # personal
        ("+1 500 234 5678", None, HighRiskNumberRefused, "high_risk_type"),  # personal
        ("911", None, EmergencyNumberRefused, "emergency"),
        ("112", None, EmergencyNumberRefused, "emergency"),
        ("999", None, EmergencyNumberRefused, "emergency"),
        ("112", "DE", EmergencyNumberRefused, "emergency"),
        ("000", "AU", EmergencyNumberRefused, "emergency"),
        ("911", "GB", EmergencyNumberRefused, "emergency"),  # someone's emergency, if not GB's
        ("+1 911", None, EmergencyNumberRefused, "emergency"),
        ("+44 999", None, EmergencyNumberRefused, "emergency"),
        ("+112", None, EmergencyNumberRefused, "emergency"),
        ("+0 1911", None, InvalidNumber, "invalid_number"),
        ("+1 876 523 0123", None, BlockedDestination, "blocked_country"),
        ("+44 7624 123456", None, BlockedDestination, "blocked_country"),
        ("+882 34 21234", None, BlockedDestination, "blocked_prefix"),
        ("+49 160 1234567", None, BlockedDestination, "blocked_prefix"),
    ],
)
def test_numbers_ownnumber_will_not_call_are_refused_with_a_reason_and_a_code(
    raw: str, default_region: str | None, refusal: type[DestinationRefused], code: str
) -> None:
    with pytest.raises(refusal) as refused:
        check_destination(raw, OPERATOR_BLOCKS, default_region)
    assert refused.value.code == code
    assert refused.value.reason == str(refused.value)
    assert refused.value.reason.endswith(".")


@pytest.mark.parametrize(
    ("raw", "default_region", "expected"),
    [
        ("+44 7400 123456", None, Destination("+447400123456", "GB", "mobile")),
        ("+44 20 7946 0018", None, Destination("+442079460018", "GB", "fixed_line")),
        ("020 7946 0018", "GB", Destination("+442079460018", "GB", "fixed_line")),
        ("0044 20 7946 0018", "gb", Destination("+442079460018", "GB", "fixed_line")),
        # The +1 numbering plan cannot tell a mobile from a landline.
        ("+1 (201) 555-0123", None, Destination("+12015550123", "US", "fixed_line_or_mobile")),
        ("+1.201.555.0123", None, Destination("+12015550123", "US", "fixed_line_or_mobile")),
        ("(201) 555-0123", "US", Destination("+12015550123", "US", "fixed_line_or_mobile")),
        ("+1 800 234 5678", None, Destination("+18002345678", "US", "toll_free")),
        ("+49 151 23456789", None, Destination("+4915123456789", "DE", "mobile")),
        ("+49 177 991234567", None, Destination("+49177991234567", "DE", "voicemail")),
        ("+33 6 12 34 56 78", None, Destination("+33612345678", "FR", "mobile")),
        ("+33 9 12 34 56 78", None, Destination("+33912345678", "FR", "voip")),
        ("+44\u00a07400\u2013123456", None, Destination("+447400123456", "GB", "mobile")),
        # Full-width digits and plus, as some phone keyboards and web pages produce them.
        (
            "+44 7400 123456".translate(FULL_WIDTH),
            None,
            Destination("+447400123456", "GB", "mobile"),
        ),
        # Non-geographic numbers belong to no country; the rate deck decides their price.
        ("+870 301 234 567", None, Destination("+870301234567", "", "mobile")),
    ],
)
def test_callable_numbers_come_back_in_e164_with_their_country_and_type(
    raw: str, default_region: str | None, expected: Destination
) -> None:
    assert check_destination(raw, OPERATOR_BLOCKS, default_region) == expected


def test_blocking_a_country_leaves_its_neighbours_on_the_same_country_code_callable() -> None:
    assert check_destination("+1 201 555 0123", OPERATOR_BLOCKS).country == "US"
    assert check_destination("+44 7400 123456", OPERATOR_BLOCKS).country == "GB"


def test_blocked_countries_and_prefixes_are_callable_when_the_operator_blocks_nothing() -> None:
    assert check_destination("+1 876 523 0123", NO_BLOCKS).country == "JM"
    assert check_destination("+49 160 1234567", NO_BLOCKS).number_type == "mobile"


def test_the_premium_rate_reason_names_the_number_as_people_write_it() -> None:
    with pytest.raises(PremiumRateRefused) as refused:
        check_destination("+19002345678", NO_BLOCKS)
    assert refused.value.reason == (
        "+1 900 234 5678 is a premium-rate number; OwnNumber does not call premium-rate numbers."
    )


def test_the_emergency_reason_tells_the_user_to_use_a_regular_phone() -> None:
    with pytest.raises(EmergencyNumberRefused) as refused:
        check_destination("911", NO_BLOCKS)
    assert "Emergency calls are not supported by OwnNumber" in refused.value.reason
    assert "call emergency services from a regular phone" in refused.value.reason


def test_a_national_number_without_a_region_is_asked_for_in_international_format() -> None:
    with pytest.raises(InvalidNumber, match="international format"):
        check_destination("07400 123456", NO_BLOCKS)


@pytest.mark.parametrize(
    ("region", "number_type", "refusal"),
    [
        ("US", PhoneNumberType.PREMIUM_RATE, PremiumRateRefused),
        ("GB", PhoneNumberType.PREMIUM_RATE, PremiumRateRefused),
        ("DE", PhoneNumberType.SHARED_COST, SharedCostRefused),
        ("FR", PhoneNumberType.SHARED_COST, SharedCostRefused),
        ("IN", PhoneNumberType.SHARED_COST, SharedCostRefused),
        ("GB", PhoneNumberType.PAGER, HighRiskNumberRefused),
        ("JP", PhoneNumberType.UAN, HighRiskNumberRefused),
        ("ES", PhoneNumberType.PERSONAL_NUMBER, HighRiskNumberRefused),
    ],
)
def test_phonenumbers_own_examples_of_refused_types_are_refused(
    region: str, number_type: int, refusal: type[DestinationRefused]
) -> None:
    # Guards the tables above against a metadata update that reclassifies a range.
    example = phonenumbers.example_number_for_type(region, number_type)
    assert example is not None
    with pytest.raises(refusal):
        check_destination(phonenumbers.format_number(example, PhoneNumberFormat.E164), NO_BLOCKS)


def test_parse_policy_settings_reads_comma_separated_settings() -> None:
    assert parse_policy_settings(" kp, IR ,", "+882, 883,+882") == PolicySettings(
        blocked_countries=frozenset({"KP", "IR"}), blocked_prefixes=("882", "883")
    )


def test_empty_settings_block_nothing() -> None:
    assert parse_policy_settings("", "") == NO_BLOCKS


@pytest.mark.parametrize(
    ("countries", "prefixes", "bad_item"),
    [
        ("KP,K1", "", "'K1'"),
        ("XX", "", "'XX'"),
        ("North Korea", "", "'North Korea'"),
        ("", "+88a", "'+88a'"),
        ("", "+", "'+'"),
        ("", "0044", "'0044'"),
        ("", "+1234567890123456", "'+1234567890123456'"),
    ],
)
def test_a_bad_policy_setting_is_refused_naming_the_item(
    countries: str, prefixes: str, bad_item: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(bad_item)):
        parse_policy_settings(countries, prefixes)


@pytest.mark.parametrize(
    ("countries", "prefixes"), [(frozenset({"kp"}), ()), (frozenset(), ("+882",))]
)
def test_policy_settings_refuse_values_that_would_never_match(
    countries: frozenset[str], prefixes: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="Blocked"):
        PolicySettings(blocked_countries=countries, blocked_prefixes=prefixes)


# --- what people paste: tel: links and national numbers -----------------------------------

LONDON = Destination("+442079460958", "GB", "fixed_line")


@pytest.mark.parametrize(
    ("typed", "region"),
    [
        ("+44 20 7946 0958", None),
        ("+44 20 7946 0958", "US"),  # a + number ignores the region
        ("0044 20 7946 0958", "GB"),  # the international prefix of the region
        ("011 44 20 7946 0958", "US"),
        ("(020) 7946-0958", "GB"),
        ("+44 (0)20 7946 0958", None),  # the national prefix written in parentheses
        ("tel:+44-20-7946-0958", None),
        ("tel:+442079460958", "FR"),
        ("TEL:+44.20.7946.0958", None),
        ("tel:%2B44-20-7946-0958", None),
        ("tel:%2B44%2020%207946%200958", None),
        ("  tel:+44(20)79460958  ", None),
        ("tel:020-7946-0958", "GB"),  # not RFC 3966, but what pages write
        ("tel:\uff0b\uff14\uff14\u00a0\uff12\uff10\u00a07946\u00a00958", None),
    ],
)
def test_numbers_are_understood_as_people_type_and_paste_them(
    typed: str, region: str | None
) -> None:
    assert check_destination(typed_number(typed), NO_BLOCKS, region) == LONDON


def test_text_that_is_not_a_tel_link_is_left_to_the_policy_as_it_is() -> None:
    for typed in ("+44 20 7946 0958", " 020 7946 0958 ", "telephone", "tel", ""):
        assert typed_number(typed) == typed


@pytest.mark.parametrize(
    "link",
    [
        "tel:+1-201-555-0123;ext=1234",
        "tel:+1-201-555-0123;EXT=1234",
        "tel:7042;phone-context=example.com",
        "tel:+1-201-555-0123;isub=1411",
        "tel:+1-201-555-0123%3Bext%3D1234",  # the parameter percent-encoded
    ],
)
def test_a_tel_link_with_parameters_is_refused_rather_than_dialled_without_them(
    link: str,
) -> None:
    with pytest.raises(InvalidNumber, match="cannot dial; enter the number alone"):
        typed_number(link)


@pytest.mark.parametrize(
    "link", ["tel:", "tel:%ZZ", "tel:%ff%fe", "tel:+44%0020%007946%000958", "tel:sip:x@y"]
)
def test_a_broken_tel_link_is_an_invalid_number_not_a_crash(link: str) -> None:
    with pytest.raises(InvalidNumber):
        check_destination(typed_number(link), NO_BLOCKS, "GB")


def test_an_absurdly_long_tel_link_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(InvalidNumber, match="too long"):
        typed_number("tel:" + "%2B" * 1000)


@pytest.mark.parametrize(("text", "region"), [("GB", "GB"), ("gb", "GB"), (" Us ", "US")])
def test_the_dialling_region_is_an_alpha_2_code_in_any_case(text: str, region: str) -> None:
    assert dialling_region(text) == region


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("GBR", "two-letter ISO 3166 code"),
        ("G", "two-letter ISO 3166 code"),
        ("\U0001f1ec\U0001f1e7", "two-letter ISO 3166 code"),  # the flag emoji of GB
        ("\uff27\uff22", "two-letter ISO 3166 code"),  # full-width GB
        ("G1", "two-letter ISO 3166 code"),
        ("x" * 10_000, "two-letter ISO 3166 code"),
        ("ZZ", "ZZ is not one with a telephone numbering plan"),
        ("AQ", "AQ is not one with a telephone numbering plan"),  # Antarctica
        ("EU", "EU is not one with a telephone numbering plan"),
        ("001", "two-letter ISO 3166 code"),
    ],
)
def test_a_region_that_is_not_a_country_with_a_numbering_plan_is_bad_input(
    text: str, sentence: str
) -> None:
    with pytest.raises(InvalidInput, match=sentence) as raised:
        dialling_region(text)
    assert "x" * 20 not in str(raised.value)
