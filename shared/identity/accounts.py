"""Users: an opaque id per person, found from a sign-in identity, and their profile row."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared.identity.errors import InvalidEmail
from shared.money.ledger import opening_balance_op
from shared.storage.errors import RowChanged, RowExists
from shared.storage.keys import IDENTITY_KEY, PROFILE_KEY
from shared.storage.rows import Insert, Replace, Row, Value

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table

_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{2,63}")


@dataclass(frozen=True)
class Profile:
    user_id: str
    email: str
    provider: str
    created_at: datetime
    # What the identity provider said at the latest sign-in; rows written before these
    # existed (and dev sign-ins) have none: an empty name, verification unknown (None).
    name: str = ""
    email_verified: bool | None = None


def normalise_email(raw: str) -> str:
    email = raw.strip().lower()
    # Control, format (zero-width, bidi overrides) and unassigned characters can make two
    # addresses look alike, or one look like another: no real address holds them.
    if any(unicodedata.category(c) in _INVISIBLE for c in email):
        raise InvalidEmail("An email address cannot hold control or invisible characters.")
    if len(email) > 320 or not _EMAIL.fullmatch(email):
        raise InvalidEmail(f"{raw.strip()[:80]!r} is not an email address.")
    return email


def identity_key(provider: str, subject: str) -> str:
    """The identities table is keyed by a hash, so it holds no email in a key."""
    return hashlib.sha256(f"{provider}\n{subject}".encode()).hexdigest()


@dataclass
class Accounts:
    accounts: Table
    identities: Table
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def sign_in(
        self,
        provider: str,
        subject: str,
        email: str,
        *,
        name: str = "",
        email_verified: bool | None = None,
    ) -> Profile:
        """The user behind this identity, created on first sign-in.

        The identity (provider, subject) is the key, never the email: the same person signing
        in again finds the same account whatever their address is now."""
        key = identity_key(provider, subject)
        found = self.identities.get(key, IDENTITY_KEY)
        if found is None:
            try:
                self.identities.commit(
                    key, [Insert(IDENTITY_KEY, {"user_id": _new_user_id(), "provider": provider})]
                )
            except RowExists:
                pass  # a parallel first sign-in created it: use theirs
            found = self.identities.get(key, IDENTITY_KEY)
            assert found is not None
        user_id = found.text("user_id")
        # An empty name or an unknown verification is not written at all (storage drops None),
        # so that a row without them, like every row from before they existed, says just that.
        said: dict[str, Value] = {
            "email": email,
            "name": name or None,
            "email_verified": email_verified,
            # The way back from the account to its identity row (keyed by a hash that cannot
            # be reversed): export shows it and deletion erases it. Older profiles gain it at
            # their next sign-in.
            "identity_key": key,
        }
        profile = self.accounts.get(user_id, PROFILE_KEY)
        if profile is None:
            profile = self._create_account(user_id, provider, said)
        if any(profile.get(prop) != value for prop, value in said.items()):
            # The identity provider is the source of truth for these: last write wins. The
            # ETag keeps this from bringing back a profile erased meanwhile.
            data = {**profile.data, **said}
            try:
                self.accounts.commit(user_id, [Replace(PROFILE_KEY, data, etag=profile.etag)])
            except RowChanged:
                pass  # a parallel sign-in (or an erasure) wrote it first: theirs stands
            profile = Row(PROFILE_KEY, data)
        return _profile(user_id, profile)

    def profile(self, user_id: str) -> Profile | None:
        row = self.accounts.get(user_id, PROFILE_KEY)
        return _profile(user_id, row) if row else None

    def _create_account(self, user_id: str, provider: str, said: dict[str, Value]) -> Row:
        data: dict[str, Value] = {**said, "provider": provider, "created_at": self.clock()}
        try:
            self.accounts.commit(user_id, [Insert(PROFILE_KEY, data), opening_balance_op()])
        except RowExists:
            pass  # created by a parallel first sign-in
        row = self.accounts.get(user_id, PROFILE_KEY)
        assert row is not None
        return row


def _new_user_id() -> str:
    return "u" + secrets.token_hex(16)


def _profile(user_id: str, row: Row) -> Profile:
    created = row.get("created_at")
    verified = row.get("email_verified")
    return Profile(
        user_id=user_id,
        email=row.text("email"),
        provider=row.text("provider"),
        created_at=created if isinstance(created, datetime) else datetime.min.replace(tzinfo=UTC),
        name=row.text("name"),
        email_verified=verified if isinstance(verified, bool) else None,
    )
