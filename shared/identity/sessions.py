"""Server-side sessions, each a row in its user's own account partition.

The browser's cookie holds `<user id>.<session id>.<secret>`, the secret 256 random bits;
storage holds only the secret's hash. Keeping the row in the account's partition is what
makes a session end everywhere at once: erasing the account erases its sessions, they are
listed and revoked together with one ranged query, and placing a call conditions on the
session's row inside the call's own transaction, so a Twilio token minted for a session places
no call once the session is gone (its identity names the session, see voice_identity).

A session lives until the earlier of two ends: its creation plus the absolute lifetime, and
its last sight plus the idle lifetime. The last sight is written at most once an hour
(RENEWAL_INTERVAL), so that resolving a cookie stays one read for nearly every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from shared.identity.devices import UNKNOWN_DEVICE, device_family
from shared.identity.errors import ReauthRequired, SessionNotFound
from shared.storage.errors import RowChanged, StorageUnavailable
from shared.storage.keys import SESSION_PREFIX, is_valid_entry_id, session_key
from shared.storage.rows import MAX_TRANSACTION_OPS, Insert, Remove, Row, Touch, Value

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table

# How stale a session's last sight may grow before a request writes it again. Idle lifetimes
# are at least two hours (shared.config), so a session in use never idles out between writes.
RENEWAL_INTERVAL = timedelta(hours=1)

# What the browser sends back: user id, session id, secret (token_urlsafe has no dots).
_TOKEN = re.compile(r"(u[0-9a-f]{32})\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})")
_IDENTITY = re.compile(r"(u[0-9a-f]{32})_([0-9a-f]{32})")
_SESSION_ID = re.compile(r"[0-9a-f]{32}")
# Rounds of listing and deleting before signing out everywhere deletes one row at a time.
_END_ALL_ATTEMPTS = 3


@dataclass(frozen=True)
class Session:
    user_id: str
    session_id: str
    created_at: datetime
    last_seen_at: datetime
    # When the person last proved who they are (the sign-in that started this session).
    signed_in_at: datetime
    # "Chrome on Android": words from shared.identity.devices, never the User-Agent itself.
    device: str
    # created_at + the absolute lifetime, and last_seen_at + the idle lifetime.
    absolute_end: datetime
    idle_end: datetime

    @property
    def key(self) -> str:
        return session_key(self.session_id)

    @property
    def expires_at(self) -> datetime:
        """When the session ends unless it is seen again (and at the latest, absolute_end)."""
        return min(self.absolute_end, self.idle_end)

    def is_live(self, now: datetime) -> bool:
        return now < self.expires_at

    def seconds_left(self, now: datetime) -> int:
        """Its real remaining life: what a Twilio token minted for it may last at most."""
        return max(0, int((self.expires_at - now).total_seconds()))

    def absolute_seconds_left(self, now: datetime) -> int:
        """The cookie's Max-Age: renewal moves the idle end, never the absolute one, so a
        cookie set once at sign-in is right for the whole session."""
        return max(0, int((self.absolute_end - now).total_seconds()))


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
    absolute: timedelta
    idle: timedelta
    # How recent a sign-in the dangerous actions need (require_fresh).
    reauth_max_age: timedelta
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def start(
        self,
        user_id: str,
        *,
        user_agent: str | None = None,
        signed_in_at: datetime | None = None,
    ) -> tuple[str, Session]:
        """A new session for the user, and the cookie value that proves it.

        `user_agent` is the sign-in request's User-Agent header: only its device family is
        kept. `signed_in_at` is when the person proved who they are (an ID token's auth_time,
        which a provider's single sign-on may date before this request); by default now, the
        sign-in having just happened. Sessions of the user that have ended are removed in the
        same transaction, so ended rows do not pile up in the partition.
        """
        if not is_valid_entry_id(user_id):
            raise ValueError("not a user id")
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        # A sign-in time in the future (a provider's clock ahead of ours) is no fresher than now.
        signed_in = min(signed_in_at, now) if signed_in_at is not None else now
        session = Session(
            user_id=user_id,
            session_id=secrets.token_hex(16),
            created_at=now,
            last_seen_at=now,
            signed_in_at=signed_in,
            device=device_family(user_agent),
            absolute_end=now + self.absolute,
            idle_end=now + self.idle,
        )
        data: dict[str, Value] = {
            "secret_hash": _secret_hash(secret),
            "created_at": session.created_at,
            "last_seen_at": session.last_seen_at,
            "signed_in_at": session.signed_in_at,
            "device": session.device,
        }
        insert = Insert(session.key, data)
        ended = [
            Remove(row.key) for row in self._rows(user_id) if not self._is_live(user_id, row, now)
        ]
        try:
            self.accounts.commit(user_id, [insert, *ended[: MAX_TRANSACTION_OPS - 1]])
        except RowChanged:
            # An ended row went meanwhile (another sign-in tidied it): the session alone.
            self.accounts.commit(user_id, [insert])
        return f"{user_id}.{session.session_id}.{secret}", session

    def resolve(self, token: str) -> Session | None:
        """The live session for this cookie value, or None (unknown, malformed or ended).

        One read; and, at most once an hour per session, one write of its last sight."""
        found = _TOKEN.fullmatch(token) if token else None
        if found is None:
            return None
        user_id, session_id, secret = found.groups()
        row = self.accounts.get(user_id, session_key(session_id))
        if row is None or not hmac.compare_digest(row.text("secret_hash"), _secret_hash(secret)):
            return None
        session = self._session(user_id, row)
        now = self.clock()
        if session is None or not session.is_live(now):
            return None
        if now - session.last_seen_at < RENEWAL_INTERVAL:
            return session
        return self._renew(session, now)

    def _renew(self, session: Session, now: datetime) -> Session | None:
        # A merge that requires the row: it cannot bring back a session ended since the read,
        # and two requests renewing at once both just write about the same time.
        try:
            self.accounts.commit(session.user_id, [Touch(session.key, {"last_seen_at": now})])
        except RowChanged:
            return None  # ended (signed out elsewhere) since the read
        except StorageUnavailable:
            # The read said it is live; the next request renews it. Refusing this one for a
            # write that only extends the session would be worse.
            return session
        return replace(session, last_seen_at=now, idle_end=now + self.idle)

    def require_fresh(self, session: Session) -> None:
        """ReauthRequired unless the session's sign-in is recent enough for a dangerous action."""
        if self.clock() - session.signed_in_at > self.reauth_max_age:
            raise ReauthRequired("This needs a recent sign-in: sign in again, then try once more.")

    def live_sessions(self, user_id: str) -> list[Session]:
        """The user's live sessions, the most recently seen first: one ranged query."""
        now = self.clock()
        found = (self._session(user_id, row) for row in self._rows(user_id))
        live = [session for session in found if session is not None and session.is_live(now)]
        return sorted(live, key=lambda session: session.last_seen_at, reverse=True)

    def revoke(self, user_id: str, session_id: str) -> None:
        """Ends one of the user's sessions; SessionNotFound if the user has no such session.

        The key is in the user's own partition, so no id can reach another user's session.
        A read first: deleting a row that is not there is no error to Table Storage's client,
        and the caller must hear that the id was not theirs."""
        key = session_key(session_id) if _SESSION_ID.fullmatch(session_id) else None
        row = self.accounts.get(user_id, key) if key else None
        if key is None or row is None:
            raise SessionNotFound("You have no session with that id.")
        # Unconditional: a renewal or a call placed since the read must not save it.
        self._remove(user_id, key)

    def end_all(self, user_id: str) -> int:
        """Ends every session of the user, and with them every Twilio token minted for them:
        one ranged query, then deletes in transactions of at most 100. How many it ended."""
        ended = 0
        for _ in range(_END_ALL_ATTEMPTS):
            keys = [row.key for row in self._rows(user_id)]
            try:
                for batch in _batches(keys, MAX_TRANSACTION_OPS):
                    self.accounts.commit(user_id, [Remove(key) for key in batch])
                    ended += len(batch)
                return ended
            except RowChanged:
                # One ended on its own meanwhile, which undid its batch: list what is left.
                continue
        # Still racing: one by one, which no session ending meanwhile can undo.
        keys = [row.key for row in self._rows(user_id)]
        for key in keys:
            self._remove(user_id, key)
        return ended + len(keys)

    def end(self, token: str) -> None:
        """Ends the session this cookie value proves (nothing, if it proves none)."""
        session = self.resolve(token)
        if session is not None:
            self.end_session(session)

    def end_session(self, session: Session) -> None:
        self._remove(session.user_id, session.key)

    def _remove(self, user_id: str, key: str) -> None:
        try:
            self.accounts.commit(user_id, [Remove(key)])
        except RowChanged:
            pass  # ended meanwhile by another request: the outcome wanted

    def _rows(self, user_id: str) -> Iterator[Row]:
        return self.accounts.rows(user_id, SESSION_PREFIX)

    def _is_live(self, user_id: str, row: Row, now: datetime) -> bool:
        session = self._session(user_id, row)
        return session is not None and session.is_live(now)

    def _session(self, user_id: str, row: Row) -> Session | None:
        """The session a row holds, or None for a row that holds none (not written by start)."""
        session_id = row.key.removeprefix(SESSION_PREFIX)
        created = row.get("created_at")
        # Rows from before sessions were renewed have neither; they count from their creation.
        last_seen = row.get("last_seen_at", created)
        signed_in = row.get("signed_in_at", created)
        if not (
            isinstance(created, datetime)
            and isinstance(last_seen, datetime)
            and isinstance(signed_in, datetime)
        ):
            return None
        return Session(
            user_id=user_id,
            session_id=session_id,
            created_at=created,
            last_seen_at=last_seen,
            signed_in_at=signed_in,
            device=row.text("device") or UNKNOWN_DEVICE,
            absolute_end=created + self.absolute,
            idle_end=last_seen + self.idle,
        )


def _batches(keys: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]
