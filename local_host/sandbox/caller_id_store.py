"""What "Twilio" knows about caller IDs in the sandbox: the validation calls still ringing,
and the account's verified OutgoingCallerIds.

A validation request (POST …/OutgoingCallerIds.json) starts a validation call: Twilio calls
the number and its owner types the 6-digit code the request answered. Here the call "rings"
on the sandbox's phone pane (/sandbox/telephony/phone) until someone types a code there or
hangs up. Each call takes one answer, as Twilio's does: the right code verifies the number
(an OutgoingCallerId, PN…, on the account), a wrong one or a hang-up fails it, and either way
the call is over.

Plain data under one lock, shared by the REST fake and the pane through `caller_id_store()`
(one instance per host process, as the calls are). The numbers are personal data: nothing
here logs them.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache

# Validation calls nobody answered are forgotten, oldest first, past this many.
MAX_PENDING = 200
# Finished validations kept for the pane's notes and the tests.
MAX_FINISHED = 200

SUCCESS, FAILED = "success", "failed"


class AlreadyVerified(ValueError):
    """The number is already one of the account's verified caller IDs (Twilio's 21450)."""


@dataclass(frozen=True)
class PendingValidation:
    """A validation call ringing on the owner's phone."""

    call_sid: str
    phone_number: str
    friendly_name: str
    validation_code: str
    status_callback: str | None
    status_callback_method: str
    call_delay: int
    extension: str | None
    started_at: datetime


@dataclass(frozen=True)
class OutgoingCallerId:
    sid: str
    phone_number: str
    friendly_name: str
    date_created: datetime
    date_updated: datetime


@dataclass(frozen=True)
class ValidationOutcome:
    """How a validation call ended: `verification_status` is Twilio's success or failed."""

    validation: PendingValidation
    verification_status: str
    outgoing_caller_id: OutgoingCallerId | None
    ended_at: datetime


class CallerIdStore:
    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self._pending: OrderedDict[str, PendingValidation] = OrderedDict()
        self._finished: OrderedDict[str, ValidationOutcome] = OrderedDict()
        self._verified: OrderedDict[str, OutgoingCallerId] = OrderedDict()

    def start_validation(
        self,
        phone_number: str,
        friendly_name: str,
        status_callback: str | None,
        status_callback_method: str,
        call_delay: int = 0,
        extension: str | None = None,
    ) -> PendingValidation:
        """A validation call to `phone_number`, with a fresh code; AlreadyVerified if the
        account has verified it. Two requests for one number ring as two calls, each with
        its own code, as Twilio's would."""
        with self.lock:
            if self.verified_number(phone_number) is not None:
                raise AlreadyVerified("Phone number already verified for your account")
            validation = PendingValidation(
                call_sid="CA" + secrets.token_hex(16),
                phone_number=phone_number,
                friendly_name=friendly_name,
                validation_code=f"{secrets.randbelow(1_000_000):06d}",
                status_callback=status_callback,
                status_callback_method=status_callback_method,
                call_delay=call_delay,
                extension=extension,
                started_at=self.clock(),
            )
            self._pending[validation.call_sid] = validation
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
            return validation

    def pending(self) -> list[PendingValidation]:
        """The validation calls still ringing, oldest first."""
        with self.lock:
            return list(self._pending.values())

    def pending_call(self, call_sid: str) -> PendingValidation | None:
        with self.lock:
            return self._pending.get(call_sid)

    def finished(self, call_sid: str) -> ValidationOutcome | None:
        with self.lock:
            return self._finished.get(call_sid)

    def answer(self, call_sid: str, code: str | None) -> ValidationOutcome | None:
        """The owner types `code` (None: hangs up) on the validation call; None if no such
        call is ringing. The right code verifies the number, anything else fails it, and the
        call is over either way."""
        with self.lock:
            validation = self._pending.pop(call_sid, None)
            if validation is None:
                return None
            now = self.clock()
            caller_id: OutgoingCallerId | None = None
            right = code is not None and secrets.compare_digest(code, validation.validation_code)
            if right:
                caller_id = self.verified_number(validation.phone_number)
                if caller_id is None:
                    caller_id = OutgoingCallerId(
                        sid="PN" + secrets.token_hex(16),
                        phone_number=validation.phone_number,
                        friendly_name=validation.friendly_name,
                        date_created=now,
                        date_updated=now,
                    )
                    self._verified[caller_id.sid] = caller_id
            outcome = ValidationOutcome(
                validation, SUCCESS if right else FAILED, caller_id, ended_at=now
            )
            self._finished[call_sid] = outcome
            while len(self._finished) > MAX_FINISHED:
                self._finished.popitem(last=False)
            return outcome

    def verified(self) -> list[OutgoingCallerId]:
        """The account's verified caller IDs, newest first, as Twilio lists them."""
        with self.lock:
            ids = list(self._verified.values())
        return sorted(ids, key=lambda c: (c.date_created, c.sid), reverse=True)

    def verified_number(self, phone_number: str) -> OutgoingCallerId | None:
        with self.lock:
            return next(
                (c for c in self._verified.values() if c.phone_number == phone_number), None
            )

    def caller_id(self, sid: str) -> OutgoingCallerId | None:
        with self.lock:
            return self._verified.get(sid)

    def rename(self, sid: str, friendly_name: str) -> OutgoingCallerId | None:
        with self.lock:
            known = self._verified.get(sid)
            if known is None:
                return None
            renamed = replace(known, friendly_name=friendly_name, date_updated=self.clock())
            self._verified[sid] = renamed
            return renamed

    def delete(self, sid: str) -> bool:
        with self.lock:
            return self._verified.pop(sid, None) is not None


def formatted_number(number: str) -> str:
    """The number as people read it, +44 7911 123456 (Twilio's default FriendlyName)."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


@lru_cache(maxsize=1)
def caller_id_store() -> CallerIdStore:
    """The host process's one store of caller IDs (the REST fake and the phone pane)."""
    return CallerIdStore()
