"""The masking rule: numbers keep country code and last two digits, emails lose the local
part, secrets go whole, and what is neither passes untouched."""

from __future__ import annotations

import pytest

from shared.telemetry.masking import (
    MAX_TEXT_CHARS,
    REDACTED,
    TRUNCATED,
    mask_attributes,
    mask_text,
    mask_value,
)


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        ("+442079460018", "+44********18"),
        ("+44 20 7946 0018", "+44********18"),
        ("+44 (0)20 7946-0018", "+44*********18"),
        ("0044 20 7946 0018", "+44********18"),
        ("tel:+1-415-555-0100", "tel:+1********00"),
        ("+1 (415) 555.0100", "+1********00"),
        ("+3531234567", "+353*****67"),
        ("+7 495 123-45-67", "+7********67"),
        ("020 7946 0018", "*********18"),
        ("(415) 555-0100", "********00"),
        ("call me on 07700900058.", "call me on *********58."),
    ],
)
def test_a_number_keeps_its_country_code_and_last_two_digits(written: str, masked: str) -> None:
    assert mask_text(written) == masked


@pytest.mark.parametrize(
    ("written", "masked"),
    [
        # Fullwidth digits and plus, as an IME types them.
        (
            "\uff0b\uff14\uff14\uff12\uff10\uff17\uff19\uff14\uff16\uff10\uff10\uff11\uff18",
            "+44********18",
        ),
        # Arabic-Indic digits.
        ("\u0660\u0667\u0667\u0660\u0660\u0669\u0660\u0660\u0660\u0665\u0668", "*********58"),
        # Devanagari digits after a plus.
        (
            "+\u096a\u096a\u0968\u0966\u0967\u096f\u096a\u096c\u0966\u0966\u0967\u096e",
            "+44********18",
        ),
        # No-break and thin spaces, en dashes.
        ("+44\u00a020\u20097946\u20130018", "+44********18"),
    ],
)
def test_digits_of_any_script_and_odd_separators_are_masked(written: str, masked: str) -> None:
    assert mask_text(written) == masked


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("/api/rates?to=%2B442079460018&country=GB", "/api/rates?to=+44********18&country=GB"),
        ("/api/rates?to=%2B44+20+7946+0018", "/api/rates?to=+44********18"),
        ("/api/rates?to=0044-20-7946-0018", "/api/rates?to=+44********18"),
        ("/api/rates?to=tel%3A%2B1+%28415%29+555-0100", "/api/rates?to=tel:+1********00"),
        ("/api/rates?to=%252B442079460018", "/api/rates?to=+44********18"),
        (
            "/api/rates?to=%EF%BC%8B%EF%BC%94%EF%BC%94207946%EF%BC%90018",
            "/api/rates?to=+44********18",
        ),
        (
            "http://127.0.0.1:10002/devstoreaccount1/callerids(PartitionKey='%2B447700900123')",
            "http://127.0.0.1:10002/devstoreaccount1/callerids(PartitionKey='+44********23')",
        ),
        ("/api/x?e=ann%2Bcalls%40example.com&y=1", "/api/x?e=***@example.com&y=1"),
    ],
)
def test_numbers_and_emails_inside_urls_are_masked(url: str, masked: str) -> None:
    assert mask_text(url) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("ann@example.com", "***@example.com"),
        ("ann.lee+calls@example.co.uk", "***@example.co.uk"),
        ("To: <ann+a+b@sub.example.org>", "To: <***@sub.example.org>"),
        ("josé.müller@bücher.example", "***@bücher.example"),
        ("用户@例子.广告", "***@例子.广告"),
        ("ann@xn--bcher-kva.example", "***@xn--bcher-kva.example"),
        ("email=ann%2Btag%40example.com", "email=***@example.com"),
    ],
)
def test_an_email_loses_its_local_part(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl",
            f"Authorization: Bearer {REDACTED}",
        ),
        ("Basic QUMwMDA6c2FuZGJveA==", f"Basic {REDACTED}"),
        ("whsec_sandbox", f"whsec_{REDACTED}"),
        ("key sk_test_51Habc and sk_live_xyz", f"key sk_test_{REDACTED} and sk_live_{REDACTED}"),
        (
            "t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
            # A Unix time is ten digits: masked like a national number, harmlessly.
            f"t=********00,v1={REDACTED}",
        ),
        ("AC00000000000000000000000000000000:sandbox-twilio-auth-token", f"AC{REDACTED}"),
        ("SK0123456789abcdef0123456789abcdef", f"SK{REDACTED}"),
        (
            "ownnumber_session=u1f.5e2.Qk9Cc2VjcmV0U2VjcmV0U2VjcmV0U2VjcmV0U2VjcmV0",
            f"ownnumber_session={REDACTED}",
        ),
        ("u1f.5e2.Qk9Cc2VjcmV0U2VjcmV0U2VjcmV0U2VjcmV0U2VjcmV0", REDACTED),
        (
            "/api/auth/callback?code=0.AX4A&state=abc123",
            f"/api/auth/callback?code={REDACTED}&state={REDACTED}",
        ),
        ("?sv=2024&sig=abc%2Fdef%3D", f"?sv=2024&sig={REDACTED}"),
    ],
)
def test_secrets_go_whole(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Settled call CA1d6cb9bb8b3aee64e926f57fce941725 (completed, 60 s billed, 15000 micros)",
        "balance 5000000 micros",
        "2026-12-02T07:31:21.123456+00:00",
        "user u2c2a32bc6dd8bf9d4fe471de2fbee3fa",
        "payment pi_8n9Vav9SoazR0ovsgyjCA2JV, event evt_73gNJxetLyDJ5WeF6p3JFdYo",
        "12345678abcdef is a hex id",
        "http://127.0.0.1:10002/devstoreaccount1/accounts()?$top=1000",
        "GET /api/rates 200 in 12.5 ms",
        "country=GB&pack=5",
        "pk_test_public is a publishable key",
    ],
)
def test_what_is_neither_number_email_nor_secret_passes_untouched(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize(
    "text",
    ["+44 20 7946 0018", "ann+x@example.com", "whsec_abc", "0044 20 7946 0018 and 020 7946 0018"],
)
def test_masking_twice_changes_nothing_more(text: str) -> None:
    once = mask_text(text)
    assert mask_text(once) == once


def test_absurdly_long_input_is_cut_at_the_cap_and_still_masked() -> None:
    text = "+442079460018 " * 100_000
    masked = mask_text(text)
    assert masked.endswith(TRUNCATED)
    assert len(masked) <= MAX_TEXT_CHARS + len(TRUNCATED) + 20
    assert "2079460018" not in masked
    assert masked.startswith("+44********18 +44********18")


@pytest.mark.parametrize(
    "text",
    ["1" * 1_000_000, "1 " * 500_000, "a." * 500_000, "a" * 1_000_000 + "@", "%2B" * 300_000],
)
def test_pathological_input_is_masked_without_blowing_up(text: str) -> None:
    # Atomic groups and the cap keep each of these linear; a backtracking regex would hang
    # (the suite's timeout would fail it).
    masked = mask_text(text)
    assert len(masked) <= MAX_TEXT_CHARS + len(TRUNCATED)


def test_a_long_digit_run_keeps_only_its_last_two_digits() -> None:
    assert mask_text("4" * 40) == "*" * 38 + "44"


def test_attributes_are_masked_by_value_and_secret_keys_lose_theirs() -> None:
    masked = mask_attributes(
        {
            "http.url": "https://calls.example.org/api/rates?to=%2B442079460018",
            "http.method": "GET",
            "http.status_code": 200,
            "http.request.header.authorization": ("Basic abc",),
            "http.request.header.cookie": "__Host-session=a.b.c",
            "stripe.signature": "t=1,v1=abc",
            "enduser.phone": 442079460018,
            "numbers": ("+442079460018", "+14155550100"),
            "sampled": True,
            "ratio": 0.5,
        }
    )
    assert masked == {
        "http.url": "https://calls.example.org/api/rates?to=+44********18",
        "http.method": "GET",
        "http.status_code": 200,
        "http.request.header.authorization": REDACTED,
        "http.request.header.cookie": REDACTED,
        "stripe.signature": REDACTED,
        "enduser.phone": "**********18",
        "numbers": ("+44********18", "+1********00"),
        "sampled": True,
        "ratio": 0.5,
    }


def test_integer_sequences_long_enough_to_be_numbers_become_masked_text() -> None:
    assert mask_value("ids", (1, 442079460018)) == ("1", "**********18")
    assert mask_value("counts", (1, 2, 3)) == (1, 2, 3)
