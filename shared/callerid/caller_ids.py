"""A user's verified caller ID: start a verification, apply Twilio's report, forget it, and say
which number a call may show.

Two records, in two tables:

- the user's own record (one row of their account partition, `callerid`): none (no row),
  pending (the number, the attempt's id, the code, Twilio's validation CallSid, when it
  started), verified (the number, Twilio's OutgoingCallerIdSid, when) or failed (the number,
  why, in words);
- the ownership index (table `callerids`, PartitionKey = the E.164 number): which user holds
  or is verifying the number. It is created with an insert that fails when the row exists, and
  changed only with the ETag read, so of two users racing for one number exactly one wins. A
  call shows the user's number only while this index names them as its verified holder.

Every attempt costs a phone call, so attempts are counted per user and per number in fixed
hours (table `limits`, shared by every instance of the app).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.callerid.caller_ids_api import CallerIdsApi
from shared.callerid.errors import (
    CallerIdProviderUnavailable,
    CallerIdRefused,
    TooManyAttempts,
    VerificationInProgress,
)
from shared.calling.destination_policy import DestinationRefused, PolicySettings, check_destination
from shared.calling.number_formats import international
from shared.config import CallerIdSettings
from shared.limits.hourly import HourlyLimitReached, count_attempt
from shared.storage.errors import RowChanged, RowExists
from shared.storage.keys import CALLER_ID_KEY, CALLER_ID_OWNER_KEY, is_valid_entry_id
from shared.storage.rows import Insert, Remove, Replace, Row, Value

if TYPE_CHECKING:
    from shared.storage.table_store import Table

# The types of number a person answers and can type a code on.
ACCEPTED_TYPES = frozenset({"mobile", "fixed_line", "fixed_line_or_mobile"})
# How long a pending verification holds its number. Twilio's validation call lasts a minute
# or two; past this the attempt has failed, and the number is free for whoever asks next.
PENDING_LIFETIME = timedelta(minutes=10)
# The one sentence for a number someone else holds or is verifying: it names nobody, and it
# is the same whichever of the two it is.
NOT_YOURS = "This number can't be verified for your account."
FAILED_REASON = (
    "The code was not typed in on that phone, or it was wrong. Start again for a new call."
)
LAPSED_REASON = "The verification call ended before the code was typed in. Start again."
LOST_REASON = "The verification finished too late to be used. Start again."
_OUTGOING_SID = re.compile(r"PN[0-9a-fA-F]{32}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_ATTEMPTS = 5


class State(StrEnum):
    NONE = "none"
    PENDING = "pending"
    VERIFIED = "verified"
    FAILED = "failed"


@dataclass(frozen=True)
class CallerIdView:
    """What GET /api/me/caller-id shows."""

    state: State
    number: str | None = None
    code: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "number": self.number,
            "formatted": international(self.number) if self.number else None,
            "code": self.code if self.state is State.PENDING else None,
            "reason": self.reason if self.state is State.FAILED else None,
        }


class ReportEffect(StrEnum):
    VERIFIED = "verified"
    FAILED = "failed"
    ALREADY_APPLIED = "already applied"
    NOT_CURRENT = "not current"
    IGNORED = "ignored"


def friendly_name(user_id: str) -> str:
    """What Twilio's console shows for the caller ID: enough to find the user in our own
    records, nothing about them (a hash of their opaque id)."""
    return "OwnNumber user " + hashlib.sha256(user_id.encode()).hexdigest()[:8]


def _e164_of(raw: str) -> str | None:
    import phonenumbers

    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _hashed(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _time(row: Row, name: str) -> datetime | None:
    value = row.get(name)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


@dataclass
class CallerIds:
    accounts: Table
    owners: Table
    limits: Table
    api: CallerIdsApi
    policy: PolicySettings
    # TWILIO_CALLER_ID: the service's own number, never anyone's caller ID.
    service_number: str
    settings: CallerIdSettings
    # The signed status-callback URL for (user id, attempt id).
    status_callback_url: Callable[[str, str], str]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    # --- reading ------------------------------------------------------------------------

    def view(self, user_id: str) -> CallerIdView:
        return self._view(self.accounts.get(user_id, CALLER_ID_KEY), self.clock())

    def caller_id_for(self, user_id: str) -> str | None:
        """The user's verified number, only while the ownership index names them its holder;
        else None (the call shows the service number). Read on every call, never cached."""
        record = self.accounts.get(user_id, CALLER_ID_KEY)
        if record is None or record.text("state") != State.VERIFIED:
            return None
        number = record.text("number")
        if not number:
            return None
        owner = self.owners.get(number, CALLER_ID_OWNER_KEY)
        if (
            owner is None
            or owner.text("user_id") != user_id
            or owner.text("state") != State.VERIFIED
        ):
            return None
        return number

    # --- starting -----------------------------------------------------------------------

    def start(self, user_id: str, raw: str) -> CallerIdView:
        """Starts verifying `raw` as this user's caller ID: Twilio calls it, and the view
        carries the code to type. CallerIdRefused, VerificationInProgress, TooManyAttempts,
        CallerIdProviderUnavailable say why not."""
        e164 = self.acceptable(raw)
        now = self.clock()
        record = self.accounts.get(user_id, CALLER_ID_KEY)
        current = self._view(record, now)
        if current.state is State.PENDING:
            raise VerificationInProgress(
                "A verification is already under way: answer the call and type the code, or "
                "wait until it ends."
            )
        if current.state is State.VERIFIED:
            raise VerificationInProgress(
                "You already have a verified number; remove it before verifying another."
            )
        # Limits before the index: nobody learns whether a number is held without paying an
        # attempt for it.
        self._count(f"user:{user_id}", self.settings.attempts_per_user_per_hour, now, "you")
        self._count(
            f"number:{_hashed(e164)}",
            self.settings.attempts_per_number_per_hour,
            now,
            "this number",
        )
        if record is not None and record.text("number") not in ("", e164):
            # A lapsed attempt at another number: let that number go.
            self._release(user_id, record.text("number"), None)
        attempt = secrets.token_hex(16)
        self._claim(user_id, e164, attempt, now)
        try:
            started = self.api.start_validation(
                e164, friendly_name(user_id), self.status_callback_url(user_id, attempt)
            )
        except Exception:
            self._release(user_id, e164, attempt)
            raise
        data: dict[str, Value] = {
            "state": State.PENDING.value,
            "number": e164,
            "attempt": attempt,
            "code": started.validation_code,
            "call_sid": started.call_sid,
            "started_at": now,
        }
        try:
            if record is None:
                self.accounts.commit(user_id, [Insert(CALLER_ID_KEY, data)])
            else:
                self.accounts.commit(user_id, [Replace(CALLER_ID_KEY, data, etag=record.etag)])
        except (RowExists, RowChanged):
            # Another start of this user's won meanwhile: this one's claim goes.
            self._release(user_id, e164, attempt)
            raise VerificationInProgress(
                "A verification is already under way: answer the call and type the code."
            ) from None
        return CallerIdView(State.PENDING, e164, started.validation_code)

    def acceptable(self, raw: str) -> str:
        """The E.164 form of a number this service may verify, or CallerIdRefused."""
        try:
            destination = check_destination(raw, self.policy)
        except DestinationRefused as refusal:
            if _e164_of(raw) == self.service_number:
                raise CallerIdRefused(_SERVICE_NUMBER) from None
            raise CallerIdRefused(refusal.reason) from None
        if destination.e164 == self.service_number:
            raise CallerIdRefused(_SERVICE_NUMBER)
        if destination.number_type not in ACCEPTED_TYPES:
            raise CallerIdRefused(
                f"{international(destination.e164)} is not a mobile or landline number; only those "
                "can be verified as your caller ID."
            )
        return destination.e164

    # --- Twilio's report ----------------------------------------------------------------

    def report(self, user_id: str, attempt: str, form: Mapping[str, str]) -> ReportEffect:
        """Applies Twilio's validation status callback for this user's attempt. Redeliveries
        and reports about an attempt that is no longer the user's current one change nothing."""
        record = self.accounts.get(user_id, CALLER_ID_KEY)
        if record is None or record.text("attempt") != attempt:
            self._forget_stray(form)
            return ReportEffect.NOT_CURRENT
        if record.text("state") != State.PENDING:
            return ReportEffect.ALREADY_APPLIED
        call_sid = form.get("CallSid", "")
        if call_sid and record.text("call_sid") and call_sid != record.text("call_sid"):
            return ReportEffect.NOT_CURRENT
        number = record.text("number")
        status = form.get("VerificationStatus", "")
        now = self.clock()
        if status == "success":
            outgoing_sid = form.get("OutgoingCallerIdSid", "")
            if not _OUTGOING_SID.fullmatch(outgoing_sid):
                return ReportEffect.IGNORED
            if not self._confirm(user_id, number, attempt, outgoing_sid, now):
                self._record_failure(user_id, record, LOST_REASON, now)
                self._forget_stray(form)
                return ReportEffect.FAILED
            verified: dict[str, Value] = {
                "state": State.VERIFIED.value,
                "number": number,
                "attempt": attempt,
                "outgoing_sid": outgoing_sid,
                "verified_at": now,
            }
            try:
                self.accounts.commit(user_id, [Replace(CALLER_ID_KEY, verified, etag=record.etag)])
            except RowChanged:
                latest = self.accounts.get(user_id, CALLER_ID_KEY)
                if latest is None or latest.text("attempt") != attempt:
                    # Removed (or restarted) meanwhile: the index must not keep the number.
                    self._release(user_id, number, attempt)
                    return ReportEffect.NOT_CURRENT
                return ReportEffect.ALREADY_APPLIED
            return ReportEffect.VERIFIED
        if status == "failed":
            self._record_failure(user_id, record, FAILED_REASON, now)
            return ReportEffect.FAILED
        return ReportEffect.IGNORED

    def _forget_stray(self, form: Mapping[str, str]) -> None:
        """A success nobody may use (the attempt was removed, or lost its number): Twilio's
        account now has a verified caller ID that no user of ours holds. Delete it, unless
        the index names it as someone's verified caller ID."""
        outgoing_sid = form.get("OutgoingCallerIdSid", "")
        number = form.get("PhoneNumber", "")
        if form.get("VerificationStatus") != "success" or not _OUTGOING_SID.fullmatch(outgoing_sid):
            return
        if _E164.fullmatch(number):
            owner = self.owners.get(number, CALLER_ID_OWNER_KEY)
            if owner is not None and owner.text("outgoing_sid") == outgoing_sid:
                return
        try:
            self.api.delete(outgoing_sid)
        except CallerIdProviderUnavailable:
            pass  # left for an operator: it shows no user's calls, the index decides that

    # --- forgetting ---------------------------------------------------------------------

    def remove(self, user_id: str) -> None:
        """Forgets the user's caller ID: Twilio's OutgoingCallerId first (so that a failure
        there leaves everything as it was, to retry), then our index row and their record.
        Account deletion calls this too."""
        record = self.accounts.get(user_id, CALLER_ID_KEY)
        if record is None:
            return
        outgoing_sid = record.text("outgoing_sid")
        if outgoing_sid:
            self.api.delete(outgoing_sid)
        number = record.text("number")
        if number:
            self._release(user_id, number, None)
        try:
            self.accounts.commit(user_id, [Remove(CALLER_ID_KEY)])
        except RowChanged:
            pass  # removed meanwhile

    # --- the index and the limits -------------------------------------------------------

    def _claim(self, user_id: str, e164: str, attempt: str, now: datetime) -> None:
        data: dict[str, Value] = {
            "user_id": user_id,
            "state": State.PENDING.value,
            "attempt": attempt,
            "started_at": now,
        }
        for _ in range(_ATTEMPTS):
            try:
                self.owners.commit(e164, [Insert(CALLER_ID_OWNER_KEY, data)])
                return
            except RowExists:
                pass
            row = self.owners.get(e164, CALLER_ID_OWNER_KEY)
            if row is None:
                continue  # let go meanwhile: insert again
            if row.text("user_id") != user_id and not self._lapsed(row, now):
                raise CallerIdRefused(NOT_YOURS)
            try:
                self.owners.commit(e164, [Replace(CALLER_ID_OWNER_KEY, data, etag=row.etag)])
                return
            except RowChanged:
                raise CallerIdRefused(NOT_YOURS) from None
        raise CallerIdRefused(NOT_YOURS)

    def _confirm(
        self, user_id: str, number: str, attempt: str, outgoing_sid: str, now: datetime
    ) -> bool:
        """Marks the index row verified, if it is still this attempt's."""
        row = self.owners.get(number, CALLER_ID_OWNER_KEY)
        if row is None or row.text("user_id") != user_id or row.text("attempt") != attempt:
            return False
        data: dict[str, Value] = {
            **row.data,
            "state": State.VERIFIED.value,
            "outgoing_sid": outgoing_sid,
            "verified_at": now,
        }
        try:
            self.owners.commit(number, [Replace(CALLER_ID_OWNER_KEY, data, etag=row.etag)])
        except RowChanged:
            return False
        return True

    def _release(self, user_id: str, number: str, attempt: str | None) -> None:
        release_owner(self.owners, user_id, number, attempt)

    def _record_failure(self, user_id: str, record: Row, reason: str, now: datetime) -> None:
        attempt = record.text("attempt")
        number = record.text("number")
        failed: dict[str, Value] = {
            "state": State.FAILED.value,
            "number": number,
            "attempt": attempt,
            "reason": reason,
            "failed_at": now,
        }
        try:
            self.accounts.commit(user_id, [Replace(CALLER_ID_KEY, failed, etag=record.etag)])
        except RowChanged:
            return  # applied by a concurrent delivery, or removed
        self._release(user_id, number, attempt)

    def _lapsed(self, row: Row, now: datetime) -> bool:
        return is_lapsed(row, now)

    def _count(self, partition: str, limit: int, now: datetime, whom: str) -> None:
        """Counts one attempt in this hour, or TooManyAttempts when `limit` are spent."""
        try:
            count_attempt(self.limits, partition, limit, now)
        except HourlyLimitReached as reached:
            raise TooManyAttempts(
                f"Too many verification attempts for {whom} this hour; try again in "
                f"{reached.minutes} minutes.",
                reached.retry_after_seconds,
            ) from None

    def _view(self, record: Row | None, now: datetime) -> CallerIdView:
        if record is None:
            return CallerIdView(State.NONE)
        state = record.text("state")
        number = record.text("number") or None
        if state == State.PENDING:
            started = _time(record, "started_at")
            if started is not None and now - started > PENDING_LIFETIME:
                return CallerIdView(State.FAILED, number, reason=LAPSED_REASON)
            return CallerIdView(State.PENDING, number, code=record.text("code") or None)
        if state == State.VERIFIED:
            return CallerIdView(State.VERIFIED, number)
        if state == State.FAILED:
            return CallerIdView(State.FAILED, number, reason=record.text("reason") or None)
        return CallerIdView(State.NONE)


_SERVICE_NUMBER = "This is one of OwnNumber's own numbers; it can't be your caller ID."


def release_owner(owners: Table, user_id: str, number: str, attempt: str | None) -> bool:
    """Removes the index row of `number` if it is this user's (and this attempt's): True if
    this call removed it. The retention run clears lapsed verifications with it too."""
    row = owners.get(number, CALLER_ID_OWNER_KEY)
    if row is None or row.text("user_id") != user_id:
        return False
    if attempt is not None and row.text("attempt") != attempt:
        return False
    try:
        owners.commit(number, [Remove(CALLER_ID_OWNER_KEY, etag=row.etag)])
    except RowChanged:
        return False  # changed meanwhile: no longer ours to remove
    return True


def is_lapsed(row: Row, now: datetime) -> bool:
    """A pending verification (the user's record or its index row) past PENDING_LIFETIME."""
    started = _time(row, "started_at")
    return (
        row.text("state") == State.PENDING
        and started is not None
        and now - started > PENDING_LIFETIME
    )


def is_attempt_id(text: str) -> bool:
    return is_valid_entry_id(text) and len(text) == 32
