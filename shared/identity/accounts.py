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

from shared.errors import InvalidInput, NotSignedIn
from shared.identity.errors import InvalidEmail
from shared.money.ledger import opening_balance_op
from shared.storage.errors import RowChanged, RowExists, StorageUnavailable
from shared.storage.keys import IDENTITY_KEY, PROFILE_KEY
from shared.storage.rows import Insert, Replace, Row, Value

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table

_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{2,63}")
MAX_NAME_CHARS = 100
# A profile's name_source / email_source once the person corrected it (GDPR Art. 16): from
# then on the identity provider no longer overwrites it at sign-in.
USER_SOURCE = "user"
# Tries of a correction against concurrent writes of the profile (a sign-in, another tab).
_ATTEMPTS = 5


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


def normalise_name(raw: str) -> str:
    """A display name as the person typed it, trimmed: 1 to MAX_NAME_CHARS characters, none
    of them control or invisible (they can make one name pass for another)."""
    name = unicodedata.normalize("NFC", raw).strip()
    if any(unicodedata.category(c) in _INVISIBLE for c in name):
        raise InvalidInput("A name cannot hold control or invisible characters.")
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise InvalidInput(f"A name must have between 1 and {MAX_NAME_CHARS} characters.")
    return name


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
        said = _provider_may_change(profile, said)
        if any(profile.get(prop) != value for prop, value in said.items()):
            # The identity provider is the source of truth for what the person has not
            # corrected: last write wins. The ETag keeps this from bringing back a profile
            # erased meanwhile.
            data = {**profile.data, **said}
            try:
                self.accounts.commit(user_id, [Replace(PROFILE_KEY, data, etag=profile.etag)])
            except RowChanged:
                pass  # a parallel sign-in (or an erasure) wrote it first: theirs stands
            profile = Row(PROFILE_KEY, data)
        return _profile(user_id, profile)

    def correct(
        self, user_id: str, *, name: str | None = None, email: str | None = None
    ) -> Profile:
        """Corrects the display name and contact email (GDPR Art. 16), each already through
        normalise_name / normalise_email. A changed address is unverified until a sign-in
        whose provider says that same address is verified; a corrected name or address is
        never again overwritten by the provider's. NotSignedIn when the account is gone."""
        for _ in range(_ATTEMPTS):
            row = self.accounts.get(user_id, PROFILE_KEY)
            if row is None:
                raise NotSignedIn("This account no longer exists; sign in again.")
            data: dict[str, Value] = dict(row.data)
            if name is not None and (name != row.text("name") or not _by_user(row, "name")):
                data.update(name=name, name_source=USER_SOURCE)
            if email is not None and email != row.text("email"):
                data.update(email=email, email_verified=False, email_source=USER_SOURCE)
            if data == dict(row.data):
                return _profile(user_id, row)
            try:
                self.accounts.commit(user_id, [Replace(PROFILE_KEY, data, etag=row.etag)])
            except RowChanged:
                continue  # a sign-in or another correction wrote meanwhile: apply to theirs
            return _profile(user_id, Row(PROFILE_KEY, data))
        raise StorageUnavailable("the profile kept changing while it was corrected")

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


def _by_user(row: Row, prop: str) -> bool:
    return row.text(f"{prop}_source") == USER_SOURCE


def _provider_may_change(profile: Row, said: dict[str, Value]) -> dict[str, Value]:
    """What a sign-in may write of what the provider says: never a name or an address the
    person corrected. A corrected address becomes verified only when the provider says that
    very address (compared as normalise_email compares) is verified."""
    allowed = dict(said)
    if _by_user(profile, "name"):
        allowed.pop("name", None)
    if _by_user(profile, "email"):
        provider_email = str(allowed.pop("email") or "").strip().lower()
        confirms = provider_email == profile.text("email") and allowed["email_verified"] is True
        if not confirms:
            allowed.pop("email_verified", None)
    return allowed


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
