"""What signing in decides without any server: where to come back to, and whether an ID
token's claims name a person we accept (and which one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.identity.errors import (
    InvalidReturnTo,
    SignInEmailMissing,
    SignInEmailUnverified,
    SignInTokenInvalid,
)
from shared.identity.id_token import identity_from_claims
from shared.identity.return_to import safe_return_to

ISSUER = "https://tenant-id.ciamlogin.com/tenant-id/v2.0"
CLIENT = "client-id"
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (None, "/"),
        ("", "/"),
        ("/", "/"),
        ("/calls", "/calls"),
        ("/history?tab=calls&page=2", "/history?tab=calls&page=2"),
        ("/settings#privacy", "/settings#privacy"),
        ("/a%20b", "/a%20b"),
        ("/x?next=https://evil.example", "/x?next=https://evil.example"),
    ],
)
def test_a_page_of_this_site_is_where_sign_in_returns(given: str | None, kept: str) -> None:
    assert safe_return_to(given) == kept


@pytest.mark.parametrize(
    "given",
    [
        "//evil.example",
        "///evil.example",
        "https://evil.example",
        "HTTPS://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "%2F%2Fevil.example",
        "/%2F/evil.example",
        "/%2f%2fevil.example",
        "/%5Cevil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\t/evil.example",
        "/x\r\nSet-Cookie: a=b",
        "/%0d%0aSet-Cookie:a=b",
        "/a b",
        "/café",
        '/"onmouseover',
        "/<script>",
        "/api/me",
        "/API/auth/login",
        "/%61pi/me",
        "/%2e%2e/api/me",
        "/x/../api/me",
        "/./api",
        "/calls/%2E",
        "/" + "a" * 1000,
    ],
)
def test_anything_else_is_refused(given: str) -> None:
    with pytest.raises(InvalidReturnTo):
        safe_return_to(given)


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT,
        "exp": NOW.timestamp() + 3600,
        "sub": "pairwise-sub",
        "oid": "object-id",
        "email": "Ada@Example.com",
        "email_verified": True,
        "name": "Ada Lovelace",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def identity(given: dict[str, Any], issuer: str | None = ISSUER) -> Any:
    return identity_from_claims(given, issuer=issuer, client_id=CLIENT, now=NOW)


def test_the_account_key_is_the_issuer_and_object_id_and_the_email_is_normalised() -> None:
    found = identity(claims())
    assert (found.issuer, found.subject) == (ISSUER, "object-id")
    assert found.email == "ada@example.com"
    assert found.email_verified is True
    assert found.name == "Ada Lovelace"


def test_without_an_object_id_the_subject_is_the_key() -> None:
    assert identity(claims(oid=None)).subject == "pairwise-sub"


@pytest.mark.parametrize(
    ("given", "issuer"),
    [
        (claims(iss="https://evil.example/v2.0"), ISSUER),
        (claims(), None),
        (claims(aud="another-app"), ISSUER),
        (claims(aud=[CLIENT, "another-app"]), ISSUER),
        (claims(aud=[CLIENT, "another-app"], azp="another-app"), ISSUER),
        (claims(exp=NOW.timestamp() - 301), ISSUER),
        (claims(exp=None), ISSUER),
        (claims(exp="tomorrow"), ISSUER),
        (claims(exp=True), ISSUER),
        (claims(oid=None, sub=None), ISSUER),
        (claims(oid="  ", sub=None), ISSUER),
        (claims(oid="x" * 257), ISSUER),
    ],
    ids=[
        "other-issuer",
        "no-discovered-issuer",
        "other-audience",
        "two-audiences-no-azp",
        "two-audiences-other-azp",
        "expired",
        "no-exp",
        "exp-not-a-number",
        "exp-a-boolean",
        "no-subject",
        "blank-subject",
        "subject-too-long",
    ],
)
def test_claims_not_issued_to_us_for_a_person_are_refused(
    given: dict[str, Any], issuer: str | None
) -> None:
    with pytest.raises(SignInTokenInvalid):
        identity(given, issuer)


def test_a_token_for_us_among_other_audiences_is_accepted_when_we_are_its_party() -> None:
    assert identity(claims(aud=[CLIENT, "api"], azp=CLIENT)).subject == "object-id"


def test_a_few_minutes_of_clock_skew_are_forgiven() -> None:
    assert identity(claims(exp=NOW.timestamp() - 299)).subject == "object-id"


@pytest.mark.parametrize("email", [None, "", "   ", 42, "not an address", "a@b"])
def test_an_identity_without_a_usable_email_is_refused(email: Any) -> None:
    given = claims()
    given["email"] = email
    if email is None:
        del given["email"]
    with pytest.raises(SignInEmailMissing):
        identity(given)


@pytest.mark.parametrize("flag", [False, "false", "False"])
def test_an_email_the_provider_calls_unverified_is_refused(flag: Any) -> None:
    with pytest.raises(SignInEmailUnverified):
        identity(claims(email_verified=flag))


@pytest.mark.parametrize(
    ("flag", "recorded"), [(True, True), ("true", True), (None, None), ("yes", None), (1, None)]
)
def test_verification_is_recorded_as_said_or_unknown(flag: Any, recorded: bool | None) -> None:
    assert identity(claims(email_verified=flag)).email_verified is recorded


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (None, ""),
        (7, ""),
        ("  Ada  ", "Ada"),
        ("Ada\u202e evil", "Ada evil"),
        ("Ada\x00\x1b[31m", "Ada[31m"),
        ("\u0645\u200c\u06cc", "\u0645\u200c\u06cc"),  # ZWNJ belongs in Persian names
        ("x" * 300, "x" * 200),
    ],
)
def test_a_display_name_keeps_only_what_can_be_shown(name: Any, shown: str) -> None:
    assert identity(claims(name=name)).name == shown
