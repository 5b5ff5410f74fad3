"""A call's life as pure decisions: its record, the order of its statuses, and what each
report about it (a status callback, the <Dial> action, Twilio's Calls API) does to it.

No I/O here; shared.calling.placing, .reports and .settling store these records and what
these functions decide. Twilio reports may come late, twice, or out of order, so a report only ever
moves a call forward (by status rank, then by SequenceNumber), and the first final status
settles it: later ones change nothing.

It is long because a call is one state machine: the record, the ranks, and the three kinds
of report that move it belong in one place, where a reader can check them against each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

from shared.calling.rating import MAX_CALL_SECONDS, Rate
from shared.errors import InvalidInput
from shared.storage.rows import Row, Value

QUEUED = "queued"
IN_PROGRESS = "in-progress"
COMPLETED = "completed"
# Twilio's final statuses other than "completed": nobody answered, so nothing is owed.
UNANSWERED_FINAL = frozenset({"busy", "no-answer", "failed", "canceled"})
FINAL_STATUSES = UNANSWERED_FINAL | {COMPLETED}

_RANK = {
    QUEUED: 0,
    "initiated": 1,
    "ringing": 2,
    IN_PROGRESS: 3,
    # The "answered" event reports CallStatus=in-progress; the word is accepted all the same.
    "answered": 3,
    **{status: 4 for status in FINAL_STATUSES},
}
FINAL_RANK = 4

# A hold outlives its call only when every report of the call's end was lost. Past its time
# limit plus the margin, reconciliation asks Twilio. Past the longest call Twilio allows plus
# the margin and two runs of reconciliation, it is stale: a new call may take its place.
STALE_HOLD_GRACE = timedelta(minutes=30)


class Source(StrEnum):
    """Which report settled or moved a call (kept on the record, for support)."""

    STATUS_CALLBACK = "status_callback"
    DIAL_ACTION = "dial_action"
    RECONCILIATION = "reconciliation"


class Step(StrEnum):
    IGNORE = "ignore"
    UPDATE = "update"
    SETTLE = "settle"
    ALREADY_SETTLED = "already_settled"


def status_rank(status: str) -> int | None:
    """Where a status stands in a call's life; None for one Twilio does not send."""
    return _RANK.get(status)


def parse_twilio_time(text: str | None) -> datetime | None:
    """Twilio's RFC 2822 times ('Tue, 24 Nov 2026 10:00:00 +0000'), or None."""
    if not text:
        return None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else None


@dataclass(frozen=True)
class CallRecord:
    """One call as OwnNumber bills it, at the deck's rate when it was dialled."""

    call_sid: str  # the parent call: the browser's leg, known when Twilio asks /api/voice
    user_id: str
    to: str  # E.164
    country: str
    rate: Rate
    max_seconds: int  # the <Dial timeLimit>: what the balance paid for when dialling
    started_at: datetime
    history_key: str
    status: str = QUEUED
    sequence: int = -1  # the SequenceNumber of the last status report applied
    child_sid: str = ""  # the dialled leg, learnt from its first report
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int = 0  # as Twilio reported it
    billed_seconds: int = 0
    charge_micros: int = 0
    settled_by: str = ""

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def description(self) -> str:
        return self.rate.description

    def to_data(self) -> dict[str, Value]:
        return {
            "call_sid": self.call_sid,
            "user_id": self.user_id,
            "to": self.to,
            "country": self.country,
            "description": self.rate.description,
            "rate_prefix": self.rate.prefix,
            "rate_country": self.rate.country,
            "per_minute_micros": self.rate.per_minute_micros,
            "first_increment": self.rate.first_increment,
            "next_increment": self.rate.next_increment,
            "connect_fee_micros": self.rate.connect_fee_micros,
            "max_seconds": self.max_seconds,
            "started_at": self.started_at,
            "history_key": self.history_key,
            "status": self.status,
            "sequence": self.sequence,
            "child_sid": self.child_sid,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "duration_seconds": self.duration_seconds,
            "billed_seconds": self.billed_seconds,
            "charge_micros": self.charge_micros,
            "settled_by": self.settled_by,
        }

    @classmethod
    def from_row(cls, row: Row) -> CallRecord:
        def when(name: str) -> datetime | None:
            value = row.get(name)
            return value if isinstance(value, datetime) else None

        started = when("started_at")
        if started is None:
            raise ValueError(f"call row {row.key} has no start time")
        return cls(
            call_sid=row.text("call_sid"),
            user_id=row.text("user_id"),
            to=row.text("to"),
            country=row.text("country"),
            rate=Rate(
                prefix=row.text("rate_prefix"),
                country=row.text("rate_country"),
                description=row.text("description"),
                per_minute_micros=row.integer("per_minute_micros"),
                first_increment=row.integer("first_increment"),
                next_increment=row.integer("next_increment"),
                connect_fee_micros=row.integer("connect_fee_micros"),
            ),
            max_seconds=row.integer("max_seconds"),
            started_at=started,
            history_key=row.text("history_key"),
            status=row.text("status", QUEUED),
            sequence=row.integer("sequence", -1),
            child_sid=row.text("child_sid"),
            answered_at=when("answered_at"),
            ended_at=when("ended_at"),
            duration_seconds=row.integer("duration_seconds"),
            billed_seconds=row.integer("billed_seconds"),
            charge_micros=row.integer("charge_micros"),
            settled_by=row.text("settled_by"),
        )


@dataclass(frozen=True)
class Hold:
    """The user's single active call: placed with the call, released when it is settled."""

    call_sid: str
    placed_at: datetime | None  # None only for a damaged row, which then never blocks
    time_limit_seconds: int

    def to_data(self) -> dict[str, Value]:
        return {
            "call_sid": self.call_sid,
            "placed_at": self.placed_at,
            "time_limit_seconds": self.time_limit_seconds,
        }

    @classmethod
    def from_row(cls, row: Row) -> Hold:
        placed = row.get("placed_at")
        return cls(
            call_sid=row.text("call_sid"),
            placed_at=placed if isinstance(placed, datetime) else None,
            time_limit_seconds=row.integer("time_limit_seconds"),
        )

    def is_overdue(self, now: datetime, margin: timedelta) -> bool:
        """The call should have ended by now: time for reconciliation to ask Twilio."""
        if self.placed_at is None:
            return True
        return now > self.placed_at + timedelta(seconds=self.time_limit_seconds) + margin

    def is_due(self, now: datetime, margin: timedelta, grace: timedelta) -> bool:
        """Time for reconciliation to ask Twilio: the call is overdue, or the hold is old
        enough for Twilio to say whether its call still goes on (it answers "in progress"
        while it does, and reconciliation then waits)."""
        if self.placed_at is None:
            return True
        return self.is_overdue(now, margin) or now > self.placed_at + grace

    def is_stale(self, now: datetime, margin: timedelta) -> bool:
        """No call can still be running under this hold; another call may replace it."""
        if self.placed_at is None:
            return True
        longest = timedelta(seconds=MAX_CALL_SECONDS) + margin + STALE_HOLD_GRACE
        return now > self.placed_at + longest


@dataclass(frozen=True)
class StatusReport:
    """What one report says about the dialled leg of a call."""

    status: str
    at: datetime
    source: Source
    child_sid: str = ""
    sequence: int | None = None
    duration_seconds: int | None = None  # Twilio's CallDuration, sent with "completed"


@dataclass(frozen=True)
class Outcome:
    step: Step
    record: CallRecord  # the record after the report (unchanged unless UPDATE or SETTLE)
    why: str = ""


def apply_report(record: CallRecord, report: StatusReport) -> Outcome:
    """What a report does to a call: nothing, move it forward, or settle it."""
    if record.is_final:
        return Outcome(Step.ALREADY_SETTLED, record, "the call is already settled")
    if report.child_sid and record.child_sid and report.child_sid != record.child_sid:
        return Outcome(Step.IGNORE, record, "the report is about another leg")
    rank = status_rank(report.status)
    if rank is None:
        return Outcome(Step.IGNORE, record, f"unknown status {report.status[:30]!r}")
    child_sid = record.child_sid or report.child_sid
    if rank == FINAL_RANK:
        if report.status == COMPLETED and report.duration_seconds is None:
            # Billing needs the duration; Twilio's Calls API will give it to reconciliation.
            return Outcome(Step.IGNORE, record, "a completed report without a duration")
        return Outcome(Step.SETTLE, settle(record, report, child_sid))
    current = (status_rank(record.status) or 0, record.sequence)
    incoming = (rank, report.sequence if report.sequence is not None else -1)
    if incoming <= current:
        return Outcome(Step.IGNORE, record, "an older or repeated report")
    answered_at = record.answered_at
    if rank == status_rank(IN_PROGRESS) and answered_at is None:
        answered_at = report.at
    return Outcome(
        Step.UPDATE,
        replace(
            record,
            status=report.status if report.status != "answered" else IN_PROGRESS,
            sequence=max(record.sequence, incoming[1]),
            child_sid=child_sid,
            answered_at=answered_at,
        ),
    )


def settle(record: CallRecord, report: StatusReport, child_sid: str) -> CallRecord:
    """The final record: the billed duration never exceeds what the balance paid for at dial
    time, so no call costs more than the user had, whatever Twilio reports."""
    duration = max(report.duration_seconds or 0, 0) if report.status == COMPLETED else 0
    billable = min(duration, record.max_seconds)
    rate = record.rate
    answered_at = record.answered_at
    if answered_at is None and duration > 0:
        # The "answered" report came late or not at all: the leg's duration tells when.
        answered_at = report.at - timedelta(seconds=duration)
    return replace(
        record,
        status=report.status,
        answered_at=answered_at,
        sequence=max(record.sequence, report.sequence if report.sequence is not None else -1),
        child_sid=child_sid,
        ended_at=report.at,
        duration_seconds=duration,
        billed_seconds=rate.billed_seconds(billable),
        charge_micros=rate.charge(billable),
        settled_by=report.source.value,
    )


def status_callback_report(form: Mapping[str, str], now: datetime) -> StatusReport:
    """A <Number statusCallback> request: CallSid is the dialled leg's, CallDuration comes
    with "completed", SequenceNumber orders the reports of one leg."""
    return StatusReport(
        status=form.get("CallStatus", ""),
        at=parse_twilio_time(form.get("Timestamp")) or now,
        source=Source.STATUS_CALLBACK,
        child_sid=form.get("CallSid", ""),
        sequence=_whole_number(form, "SequenceNumber"),
        duration_seconds=_whole_number(form, "CallDuration"),
    )


def dial_action_report(form: Mapping[str, str], now: datetime) -> StatusReport | None:
    """The <Dial action> request, which Twilio sends when the dial ends: DialCallStatus,
    DialCallSid and, for an answered leg, DialCallDuration (the leg's CallDuration). It settles
    the call as well as the final status callback would, so whichever of the two comes first
    settles it, at the same price; None when it cannot (an answered leg without its sid or
    duration, or a status Twilio does not send for a <Number>)."""
    status = form.get("DialCallStatus", "")
    child_sid = form.get("DialCallSid", "")
    if status in UNANSWERED_FINAL:
        return StatusReport(status, now, Source.DIAL_ACTION, child_sid=child_sid)
    if status != COMPLETED or not child_sid:
        return None
    duration = _whole_number(form, "DialCallDuration")
    if duration is None:
        return None
    return StatusReport(
        status, now, Source.DIAL_ACTION, child_sid=child_sid, duration_seconds=duration
    )


def _whole_number(form: Mapping[str, str], name: str) -> int | None:
    text = form.get(name, "")
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise InvalidInput(f"The field {name} must be a whole number.")
    return int(text)


@dataclass(frozen=True)
class TwilioCallView:
    """A call as Twilio's Calls API shows it."""

    sid: str
    parent_call_sid: str | None
    status: str
    duration_seconds: int | None
    end_time: datetime | None


def reconciliation_report(
    record: CallRecord,
    parent: TwilioCallView | None,
    children: list[TwilioCallView],
    now: datetime,
) -> StatusReport | None:
    """What Twilio's own view of a call says happened, or None while it cannot settle it."""
    leg = next((c for c in children if c.sid == record.child_sid), None) or next(
        iter(sorted(children, key=lambda c: c.sid)), None
    )
    if leg is not None:
        if leg.status not in FINAL_STATUSES:
            return None
        if leg.status == COMPLETED and leg.duration_seconds is None:
            # Answered, but Twilio has not written its duration yet: billing it as zero
            # would give the call away, so wait for the next run.
            return None
        return StatusReport(
            leg.status,
            leg.end_time or now,
            Source.RECONCILIATION,
            child_sid=leg.sid,
            duration_seconds=leg.duration_seconds,
        )
    if record.child_sid:
        # A leg reported to us but unknown to Twilio: no guess at its duration is safe.
        return None
    if parent is None:
        # Twilio does not know the call at all. It may never have placed it, but a wrong API
        # key, account or region says the same of every call: never settle as free on that.
        return None
    if parent.status not in FINAL_STATUSES:
        return None
    # The browser's call ended before any leg was dialled.
    status = parent.status if parent.status in UNANSWERED_FINAL else "canceled"
    return StatusReport(status, parent.end_time or now, Source.RECONCILIATION)
