"""Server-side sessions, each a row in its user's own account partition.

The browser's cookie holds `<user id>.<session id>.<secret>`, the secret 256 random bits;
storage holds only the secret's hash. Keeping the row in the account's partition is what
makes a session end everywhere at once: erasing the account erases its sessions, they can be
listed and revoked together, and placing a call conditions on the session's row inside the
call's own transaction, so a Twilio token minted for a session places no call once the
session is gone (its identity names the session, see voice_identity).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.storage.errors import RowChanged
from shared.storage.keys import is_valid_entry_id, session_key
from shared.storage.rows import Insert, Remove, Value

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table

# What the browser sends back: user id, session id, secret (token_urlsafe has no dots).
_TOKEN = re.compile(r"(u[0-9a-f]{32})\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})")
_IDENTITY = re.compile(r"(u[0-9a-f]{32})_([0-9a-f]{32})")


@dataclass(frozen=True)
class Session:
    user_id: str
    session_id: str
    created_at: datetime
    expires_at: datetime

    @property
    def key(self) -> str:
        return session_key(self.session_id)

    def seconds_left(self, now: datetime) -> int:
        return max(0, int((self.expires_at - now).total_seconds()))


def voice_identity(session: Session) -> str:
    """The Twilio client identity of tokens minted for this session: it names the session, so
    the voice webhook can tell whose call it is and whether that session still lives."""
    return f"{session.user_id}_{session.session_id}"


def parse_voice_identity(identity: str) -> tuple[str, str] | None:
    """(user id, session key) of an identity voice_identity made, else None."""
    found = _IDENTITY.fullmatch(identity)
    if found is None:
        return None
    return found.group(1), session_key(found.group(2))


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class Sessions:
    accounts: Table
    ttl: timedelta
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def start(self, user_id: str) -> tuple[str, Session]:
        """A new session for the user, and the cookie value that proves it."""
        if not is_valid_entry_id(user_id):
            raise ValueError("not a user id")
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(user_id, secrets.token_hex(16), now, now + self.ttl)
        data: dict[str, Value] = {
            "secret_hash": _secret_hash(secret),
            "created_at": session.created_at,
            "expires_at": session.expires_at,
        }
        self.accounts.commit(user_id, [Insert(session.key, data)])
        return f"{user_id}.{session.session_id}.{secret}", session

    def resolve(self, token: str) -> Session | None:
        """The live session for this cookie value, or None (unknown, malformed or expired)."""
        found = _TOKEN.fullmatch(token) if token else None
        if found is None:
            return None
        user_id, session_id, secret = found.groups()
        row = self.accounts.get(user_id, session_key(session_id))
        if row is None or not hmac.compare_digest(row.text("secret_hash"), _secret_hash(secret)):
            return None
        created, expires = row.get("created_at"), row.get("expires_at")
        if not isinstance(expires, datetime) or not isinstance(created, datetime):
            return None
        if expires <= self.clock():
            return None
        return Session(user_id, session_id, created, expires)

    def end(self, token: str) -> None:
        """Ends the session this cookie value proves (nothing, if it proves none)."""
        session = self.resolve(token)
        if session is not None:
            self.end_session(session)

    def end_session(self, session: Session) -> None:
        try:
            self.accounts.commit(session.user_id, [Remove(session.key)])
        except RowChanged:
            pass  # ended meanwhile by another request: the outcome wanted
