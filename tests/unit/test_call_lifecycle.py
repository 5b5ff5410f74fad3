"""The call lifecycle's decisions: ordering, settling once, and reconciliation's reading."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.calling.lifecycle import (
    CallRecord,
    Hold,
    Source,
    StatusReport,
    Step,
    TwilioCallView,
    apply_report,
    dial_action_report,
    parse_twilio_time,
    reconciliation_report,
    status_callback_report,
    status_rank,
)
from shared.calling.rating import MAX_CALL_SECONDS, Rate
from shared.errors import InvalidInput

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
CHILD = "CA" + "c" * 32


def a_call(**changes: object) -> CallRecord:
    """A UK landline call at 0.015/min in 60/1 increments, paid for up to 4000 s."""
    record = CallRecord(
        call_sid="CA" + "p" * 32,
        user_id="u1",
        to="+442079460018",
        country="GB",
        rate=Rate("44", "GB", "United Kingdom landline", 15_000, 60, 1),
        max_seconds=4000,
        started_at=NOW,
        history_key="callhistory:1",
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def report(
    status: str, sequence: int | None = None, duration: int | None = None, child: str = CHILD
) -> StatusReport:
    return StatusReport(status, NOW, Source.STATUS_CALLBACK, child, sequence, duration)


def fold(record: CallRecord, reports: list[StatusReport]) -> tuple[CallRecord, list[Step]]:
    steps = []
    for item in reports:
        outcome = apply_report(record, item)
        steps.append(outcome.step)
        record = outcome.record
    return record, steps


ANSWERED = [
    report("initiated", 0),
    report("ringing", 1),
    report("in-progress", 2),
    report("completed", 3, 61),
]


def test_statuses_rank_from_queued_to_final() -> None:
    ranks = [status_rank(s) for s in ("queued", "initiated", "ringing", "in-progress")]
    assert ranks == sorted(ranks) == [0, 1, 2, 3]
    assert status_rank("answered") == status_rank("in-progress")
    finals = {status_rank(s) for s in ("completed", "busy", "no-answer", "failed", "canceled")}
    assert finals == {4}
    assert status_rank("exploded") is None


def test_reports_in_order_move_the_call_forward_and_the_last_settles_it() -> None:
    record, steps = fold(a_call(), ANSWERED)
    assert steps == [Step.UPDATE, Step.UPDATE, Step.UPDATE, Step.SETTLE]
    assert (record.status, record.child_sid, record.sequence) == ("completed", CHILD, 3)
    assert (record.duration_seconds, record.billed_seconds, record.charge_micros) == (
        61,
        61,
        15_250,
    )
    assert record.answered_at == NOW
    assert record.settled_by == "status_callback"


def test_an_older_report_never_moves_a_call_backwards() -> None:
    record, steps = fold(a_call(), [report("in-progress", 2), report("ringing", 1)])
    assert steps == [Step.UPDATE, Step.IGNORE]
    assert record.status == "in-progress"


def test_a_repeated_report_is_ignored() -> None:
    _, steps = fold(a_call(), [report("ringing", 1), report("ringing", 1)])
    assert steps == [Step.UPDATE, Step.IGNORE]


def test_the_answered_event_counts_as_in_progress_and_is_timed_once() -> None:
    later = replace(report("in-progress", 3), at=NOW + timedelta(seconds=5))
    record, _ = fold(a_call(), [report("answered", 2), later])
    assert record.status == "in-progress"
    assert record.answered_at == NOW


def test_after_the_first_final_report_nothing_changes() -> None:
    record, steps = fold(
        a_call(), [report("completed", 3, 61), report("completed", 3, 999), report("busy", 4)]
    )
    assert steps == [Step.SETTLE, Step.ALREADY_SETTLED, Step.ALREADY_SETTLED]
    assert record.charge_micros == 15_250


def test_a_final_report_settles_even_when_it_arrives_first() -> None:
    record, steps = fold(a_call(), [report("completed", 3, 30), *ANSWERED[:3]])
    assert steps == [Step.SETTLE] + [Step.ALREADY_SETTLED] * 3
    assert record.charge_micros == 15_000  # the first 60 s block
    assert record.answered_at == NOW - timedelta(seconds=30)


def test_reports_about_another_leg_or_of_unknown_status_are_ignored() -> None:
    record = apply_report(a_call(), report("ringing", 1)).record
    other = apply_report(record, report("completed", 3, 60, child="CA" + "d" * 32))
    assert (other.step, other.why) == (Step.IGNORE, "the report is about another leg")
    assert apply_report(record, report("exploded", 5)).step is Step.IGNORE


def test_a_completed_report_without_a_duration_waits_for_reconciliation() -> None:
    outcome = apply_report(a_call(), report("completed", 3, None))
    assert outcome.step is Step.IGNORE


@pytest.mark.parametrize("status", ["busy", "no-answer", "failed", "canceled"])
def test_an_unanswered_call_owes_nothing(status: str) -> None:
    outcome = apply_report(a_call(), report(status, 1, 17))
    assert outcome.step is Step.SETTLE
    assert (outcome.record.billed_seconds, outcome.record.charge_micros) == (0, 0)


def test_billing_stops_at_the_time_limit_the_balance_paid_for() -> None:
    call = a_call(max_seconds=120, rate=Rate("44", "GB", "Sixty by sixty", 600, 60, 60))
    settled = apply_report(call, report("completed", 3, 125)).record
    assert settled.duration_seconds == 125
    assert (settled.billed_seconds, settled.charge_micros) == (120, 1_200)


@given(
    order=st.randoms(use_true_random=False),
    copies=st.lists(st.integers(1, 3), min_size=4, max_size=4),
    duration=st.integers(0, 5000),
)
def test_any_order_and_any_duplication_settles_once_at_one_price(
    order: random.Random, copies: list[int], duration: int
) -> None:
    reports = [*ANSWERED[:3], report("completed", 3, duration)]
    delivered = [item for item, n in zip(reports, copies, strict=True) for _ in range(n)]
    order.shuffle(delivered)
    record, steps = fold(a_call(), delivered)
    assert steps.count(Step.SETTLE) == 1
    assert record.charge_micros == a_call().rate.charge(min(duration, 4000))


def test_a_status_callback_form_becomes_a_report() -> None:
    form = {
        "CallSid": CHILD,
        "CallStatus": "completed",
        "CallDuration": "61",
        "SequenceNumber": "3",
        "Timestamp": "Tue, 24 Nov 2026 10:01:01 +0000",
    }
    parsed = status_callback_report(form, NOW)
    assert (parsed.child_sid, parsed.status, parsed.sequence, parsed.duration_seconds) == (
        CHILD,
        "completed",
        3,
        61,
    )
    assert parsed.at == NOW + timedelta(seconds=61)
    assert status_callback_report({"CallStatus": "ringing"}, NOW).at == NOW


@pytest.mark.parametrize("bad", ["-1", "1.5", "x", "١٢", "9" * 12])
def test_a_status_callback_with_a_malformed_number_is_invalid(bad: str) -> None:
    with pytest.raises(InvalidInput):
        status_callback_report({"CallStatus": "ringing", "SequenceNumber": bad}, NOW)


def test_twilio_times_parse_or_are_none() -> None:
    assert parse_twilio_time("Tue, 24 Nov 2026 10:00:00 +0000") == NOW
    assert parse_twilio_time("yesterday") is None
    assert parse_twilio_time(None) is None


def test_the_dial_action_settles_unanswered_dials() -> None:
    busy = dial_action_report({"DialCallStatus": "busy", "DialCallSid": CHILD}, NOW)
    assert busy is not None
    assert (busy.status, busy.child_sid, busy.source) == ("busy", CHILD, Source.DIAL_ACTION)
    failed = dial_action_report({"DialCallStatus": "failed"}, NOW)
    assert failed is not None
    assert failed.child_sid == ""
    assert dial_action_report({"DialCallStatus": "answered"}, NOW) is None


def test_the_dial_action_settles_an_answered_dial_with_its_duration() -> None:
    form = {"DialCallStatus": "completed", "DialCallSid": CHILD, "DialCallDuration": "61"}
    action = dial_action_report(form, NOW)
    assert action is not None
    assert (action.status, action.child_sid, action.duration_seconds, action.source) == (
        "completed",
        CHILD,
        61,
        Source.DIAL_ACTION,
    )
    settled = apply_report(a_call(), action)
    assert settled.step is Step.SETTLE
    assert settled.record.charge_micros == 15_250


def test_an_answered_dial_action_without_its_leg_or_duration_settles_nothing() -> None:
    assert dial_action_report({"DialCallStatus": "completed", "DialCallSid": CHILD}, NOW) is None
    no_leg = {"DialCallStatus": "completed", "DialCallDuration": "61"}
    assert dial_action_report(no_leg, NOW) is None


@given(duration=st.integers(0, 5000), action_first=st.booleans())
def test_the_dial_action_and_the_final_callback_settle_once_at_one_price(
    duration: int, action_first: bool
) -> None:
    form = {
        "DialCallStatus": "completed",
        "DialCallSid": CHILD,
        "DialCallDuration": str(duration),
    }
    action = dial_action_report(form, NOW)
    assert action is not None
    callback = report("completed", 3, duration)
    first, second = (action, callback) if action_first else (callback, action)
    record, steps = fold(a_call(), [*ANSWERED[:3], first, second])
    assert steps[3:] == [Step.SETTLE, Step.ALREADY_SETTLED]
    # Either way the same charge, so the ledger entry keyed by the leg is never reused.
    alone = apply_report(a_call(), second).record
    assert record.charge_micros == alone.charge_micros == a_call().rate.charge(min(duration, 4000))


def leg(status: str, duration: int | None = None, sid: str = CHILD) -> TwilioCallView:
    return TwilioCallView(sid, "CA" + "p" * 32, status, duration, NOW + timedelta(seconds=9))


def parent(status: str) -> TwilioCallView:
    return TwilioCallView("CA" + "p" * 32, None, status, None, NOW)


def test_reconciliation_bills_the_leg_as_twilio_recorded_it() -> None:
    found = reconciliation_report(a_call(), parent("completed"), [leg("completed", 61)], NOW)
    assert found is not None
    assert (found.status, found.child_sid, found.duration_seconds) == ("completed", CHILD, 61)
    assert found.at == NOW + timedelta(seconds=9)
    assert found.source is Source.RECONCILIATION
    assert apply_report(a_call(), found).record.charge_micros == 15_250


def test_reconciliation_waits_while_twilio_says_the_call_goes_on() -> None:
    assert reconciliation_report(a_call(), parent("in-progress"), [leg("in-progress")], NOW) is None
    assert reconciliation_report(a_call(), parent("in-progress"), [], NOW) is None


def test_reconciliation_frees_calls_that_never_dialled_a_leg() -> None:
    hung_up = reconciliation_report(a_call(), parent("completed"), [], NOW)
    assert hung_up is not None
    assert (hung_up.status, hung_up.child_sid) == ("canceled", "")
    busy = reconciliation_report(a_call(), parent("busy"), [], NOW)
    assert busy is not None
    assert busy.status == "busy"


def test_reconciliation_waits_for_a_call_twilio_does_not_know() -> None:
    # A wrong API key, account or region makes every call unknown: none may turn free.
    assert reconciliation_report(a_call(), None, [], NOW) is None


def test_reconciliation_waits_for_the_duration_of_an_answered_leg() -> None:
    assert reconciliation_report(a_call(), parent("completed"), [leg("completed")], NOW) is None
    unanswered = reconciliation_report(a_call(), parent("completed"), [leg("no-answer")], NOW)
    assert unanswered is not None
    assert unanswered.status == "no-answer"


def test_reconciliation_does_not_guess_about_a_leg_twilio_forgot() -> None:
    assert reconciliation_report(a_call(child_sid=CHILD), None, [], NOW) is None


def test_a_hold_is_overdue_after_its_time_limit_and_stale_after_the_longest_call() -> None:
    margin = timedelta(minutes=5)
    hold = Hold("CA1", NOW, 60)
    assert not hold.is_overdue(NOW + timedelta(seconds=360), margin)
    assert hold.is_overdue(NOW + timedelta(seconds=361), margin)
    longest = timedelta(seconds=MAX_CALL_SECONDS) + margin
    assert not hold.is_stale(NOW + longest, margin)
    assert hold.is_stale(NOW + longest + timedelta(hours=1), margin)
    damaged = Hold("CA1", None, 60)
    assert damaged.is_overdue(NOW, margin)
    assert damaged.is_stale(NOW, margin)


def test_a_hold_is_due_for_reconciliation_after_a_short_grace_or_when_overdue() -> None:
    margin, grace = timedelta(minutes=5), timedelta(minutes=3)
    hold = Hold("CA1", NOW, 3600)
    assert not hold.is_due(NOW + grace, margin, grace)
    assert hold.is_due(NOW + grace + timedelta(seconds=1), margin, grace)
    short = Hold("CA1", NOW, 10)
    assert short.is_due(NOW + timedelta(seconds=311), margin, timedelta(hours=1))
    assert Hold("CA1", None, 60).is_due(NOW, margin, grace)
