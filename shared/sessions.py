"""Server-side sessions: the browser holds a random token, storage holds only its hash."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.records import SESSION_KEY
from shared.table_store import Insert, Remove, Table

COOKIE_NAME = "ownnumber_session"
# Browsers accept a __Host- cookie only when it is Secure, with Path=/ and no Domain.
SECURE_COOKIE_NAME = "__Host-ownnumber_session"


@dataclass(frozen=True)
class Session:
    user_id: str
    created_at: datetime
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Sessions:
    table: Table
    ttl: timedelta
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def start(self, user_id: str) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(user_id, now, now + self.ttl)
        self.table.commit(
            token_hash(token),
            [
                Insert(
                    SESSION_KEY,
                    {
                        "user_id": user_id,
                        "created_at": session.created_at,
                        "expires_at": session.expires_at,
                    },
                )
            ],
        )
        return token, session

    def resolve(self, token: str) -> Session | None:
        """The live session for this token, or None (unknown, malformed or expired)."""
        if not token or len(token) > 200:
            return None
        row = self.table.get(token_hash(token), SESSION_KEY)
        if row is None:
            return None
        created, expires = row.get("created_at"), row.get("expires_at")
        if not isinstance(expires, datetime) or not isinstance(created, datetime):
            return None
        if expires <= self.clock():
            return None
        return Session(row.text("user_id"), created, expires)

    def end(self, token: str) -> None:
        if token and len(token) <= 200:
            self.table.commit(token_hash(token), [Remove(SESSION_KEY)])
