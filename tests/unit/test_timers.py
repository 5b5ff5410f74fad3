"""The local host's timer runner: a timer function runs on its NCRONTAB schedule, and stops
with the runner."""

from __future__ import annotations

import logging
import re
import threading

import azure.functions as func
import pytest

from local_host.functions_host import FunctionsHost
from local_host.timers import ScheduleError, TimerRunner, resolve_schedule


def test_a_timer_runs_on_its_schedule_until_stopped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="local_host")
    app = func.FunctionApp()
    runs: list[bool] = []
    twice = threading.Event()

    @app.timer_trigger(arg_name="timer", schedule="* * * * * *")  # every second
    def tick(timer: func.TimerRequest) -> None:
        runs.append(timer.past_due)
        if len(runs) == 2:
            twice.set()

    runner = TimerRunner(FunctionsHost(app))
    runner.start()
    try:
        assert twice.wait(5), "the timer did not run twice in 5 s on a 1-second schedule"
    finally:
        runner.stop()
    assert runs[:2] == [False, False]
    messages = [record.getMessage() for record in caplog.records]
    assert "Timer tick runs on the schedule '* * * * * *'" in messages
    assert "Timer tick fired" in messages


def test_a_schedule_named_as_a_setting_is_read_from_the_settings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="local_host")
    app = func.FunctionApp()
    ran = threading.Event()

    @app.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%")
    def tick(timer: func.TimerRequest) -> None:
        ran.set()

    runner = TimerRunner(FunctionsHost(app), env={"TICK_SCHEDULE": "* * * * * *"})
    runner.start()
    try:
        assert ran.wait(5), "the timer did not run on the schedule its setting holds"
    finally:
        runner.stop()
    assert "Timer tick runs on the schedule '* * * * * *'" in caplog.messages


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({}, "The setting TICK_SCHEDULE (the schedule of timer tick) is not set"),
        ({"TICK_SCHEDULE": "  "}, "The setting TICK_SCHEDULE (the schedule of timer tick) is not"),
        ({"TICK_SCHEDULE": "0 30 3 * *"}, "The setting TICK_SCHEDULE (the schedule of timer tick)"),
        ({"TICK_SCHEDULE": "every night"}, "must be an NCRONTAB expression of six fields"),
        ({"TICK_SCHEDULE": "0 99 3 * * *"}, "must be an NCRONTAB expression of six fields"),
    ],
    ids=["unset", "blank", "five-fields", "words", "minute-99"],
)
def test_a_timer_whose_setting_is_unusable_is_not_armed_and_says_which_setting(
    caplog: pytest.LogCaptureFixture, env: dict[str, str], words: str
) -> None:
    with pytest.raises(ScheduleError, match=re.escape(words)):
        resolve_schedule("tick", "%TICK_SCHEDULE%", env)
    app = func.FunctionApp()

    @app.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%")
    def tick(timer: func.TimerRequest) -> None:
        raise AssertionError("an unarmed timer ran")

    runner = TimerRunner(FunctionsHost(app), env=env)
    runner.start()
    runner.stop()
    [record] = [r for r in caplog.records if r.name == "local_host" and "tick" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert record.getMessage().startswith("Timer tick is not armed: The setting TICK_SCHEDULE")


def test_a_literal_schedule_is_taken_as_it_is() -> None:
    assert resolve_schedule("t", "0 */15 * * * *", {}) == "0 */15 * * * *"
    with pytest.raises(ScheduleError, match="The schedule of timer t must be"):
        resolve_schedule("t", "*/15 * * * *", {})
