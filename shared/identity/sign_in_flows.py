"""Sign-ins in progress, kept on the server between the redirect to the identity provider and
its callback.

MSAL's auth code flow holds the PKCE verifier and the nonce that make the provider's answer
ours: they must never reach the browser, so the flow waits here, one row per flow keyed by a
hash of its OAuth state (the state is in URLs and logs of proxies; the hash is not worth
anything without it). A row lives ten minutes at most, checked when it is read, and is
deleted by the read that uses it, conditionally on its ETag: of two callbacks with one state
(a replay, a double click), exactly one gets the flow.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.identity.errors import SignInFlowExpired, SignInFlowUnknown
from shared.storage.errors import RowChanged
from shared.storage.keys import SIGN_IN_FLOW_KEY
from shared.storage.rows import Insert, Remove, Value

if TYPE_CHECKING:
    # Only a type: the table store (and its SDK) is built by bootstrap, never imported here.
    from shared.storage.table_store import Table

# Long enough to pick an account and get past a second factor; short enough that a flow left
# in a URL somewhere is useless soon.
FLOW_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class PendingSignIn:
    flow: dict[str, Any]
    return_to: str
    # What the provider was asked (select_account, login); "" for nothing.
    prompt: str = ""


def flow_partition(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


@dataclass
class SignInFlows:
    table: Table
    ttl: timedelta = FLOW_TTL
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def save(self, flow: Mapping[str, Any], return_to: str, prompt: str = "") -> None:
        state = flow.get("state")
        if not isinstance(state, str) or not state:
            raise ValueError("an auth code flow has a state")
        # The authorization URL was for the browser; everything else MSAL needs back.
        kept = {name: value for name, value in flow.items() if name != "auth_uri"}
        now = self.clock()
        row: dict[str, Value] = {
            "flow": json.dumps(kept, separators=(",", ":")),
            "return_to": return_to,
            "prompt": prompt,
            "created_at": now,
            "expires_at": now + self.ttl,
        }
        self.table.commit(flow_partition(state), [Insert(SIGN_IN_FLOW_KEY, row)])

    def return_to_of(self, state: str) -> str | None:
        """Where the flow of this state would come back to, read without using it up."""
        row = self.table.get(flow_partition(state), SIGN_IN_FLOW_KEY)
        return row.text("return_to") or None if row is not None else None

    def take(self, state: str) -> PendingSignIn:
        """The flow started with this state, deleted so that it can never be used again."""
        partition = flow_partition(state)
        row = self.table.get(partition, SIGN_IN_FLOW_KEY)
        if row is None:
            raise SignInFlowUnknown()
        try:
            self.table.commit(partition, [Remove(SIGN_IN_FLOW_KEY, etag=row.etag)])
        except RowChanged:
            raise SignInFlowUnknown() from None  # another callback took it a moment ago
        expires = row.get("expires_at")
        if not isinstance(expires, datetime) or expires <= self.clock():
            raise SignInFlowExpired()
        try:
            flow = json.loads(row.text("flow"))
        except ValueError:
            flow = None  # not a row this module wrote
        if not isinstance(flow, dict) or flow.get("state") != state:
            raise SignInFlowUnknown()
        return PendingSignIn(flow, row.text("return_to", "/"), row.text("prompt"))
