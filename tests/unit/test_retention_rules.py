"""The retention run against the registry: every kind kept for a period has a step that
applies it, and the run's one log line holds counts only."""

from __future__ import annotations

import re

from shared.privacy.registry import KINDS, kind_named
from shared.privacy.retention import STEPS, Summary

# A retention rule that names a period ("10 minutes", "{CALL_RETENTION_DAYS} days", "its
# clock hour") or the daily run itself is one the run must apply.
_TIME_BOUND = re.compile(r"\b(minutes?|hours?|days?|years?)\b|retention run", re.IGNORECASE)


def test_every_time_bound_kind_has_a_step_that_applies_its_rule() -> None:
    applied = {name for step in STEPS for name in step.kinds}
    time_bound = {kind.name for kind in KINDS if _TIME_BOUND.search(kind.retention.rule)}
    assert time_bound, "the pattern finds the registry's periods"
    assert {"call", "call_history", "session", "auth_flow", "checkout"} <= time_bound
    assert time_bound - applied == set()


def test_every_step_names_kinds_the_registry_declares() -> None:
    for step in STEPS:
        assert step.kinds, step.name
        for name in step.kinds:
            kind_named(name)  # KeyError for a kind the registry lacks
    assert len({step.name for step in STEPS}) == len(STEPS)


def test_the_summary_line_is_counts_by_kind() -> None:
    summary = Summary(unsettled_kept=2, finished=True, seconds=1.25)
    summary.deleted["call"] += 3
    summary.deleted["session"] += 1
    assert summary.line() == (
        "Retention: 4 row(s) deleted (call 3, session 1); 2 unsettled call(s) kept; "
        "0 archive(s) refused; 0 deletion(s) resumed, 0 failed; round finished; 1.2 s"
    )
    stopped = Summary(stopped_at="sessions")
    assert "nothing due" not in stopped.line()
    assert stopped.line().startswith("Retention: 0 row(s) deleted (none due)")
    assert "stopped in sessions, goes on" in stopped.line()
