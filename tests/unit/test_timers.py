"""The local host's timer runner: a timer function runs on its NCRONTAB schedule, and stops
with the runner."""

from __future__ import annotations

import logging
import threading

import azure.functions as func
import pytest

from local_host.functions_host import FunctionsHost
from local_host.timers import TimerRunner


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
