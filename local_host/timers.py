"""Runs timer functions on their NCRONTAB schedules ('sec min hour day month weekday')."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from croniter import croniter

from local_host.functions_host import FunctionsHost, TimerFunction

logger = logging.getLogger("local_host")


class TimerRunner:
    def __init__(self, host: FunctionsHost) -> None:
        self._host = host
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for timer in self._host.timers:
            # Logged so that a host with timers can be told from one started with --no-timers.
            logger.info("Timer %s runs on the schedule %r", timer.name, timer.schedule)
            thread = threading.Thread(target=self._loop, args=(timer,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Ends the waits, and gives a run under way a moment to finish before the storage
        it writes to is stopped."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(self, timer: TimerFunction) -> None:
        if timer.run_on_startup:
            self._fire(timer, past_due=False)
        schedule = croniter(timer.schedule, datetime.now(UTC), second_at_beginning=True)
        while not self._stop.is_set():
            due = schedule.get_next(datetime)
            # Waiting on the stop event, not sleeping: stopping the host ends the wait at once.
            if self._stop.wait(max(0.0, (due - datetime.now(UTC)).total_seconds())):
                return
            self._fire(timer, past_due=(datetime.now(UTC) - due).total_seconds() > 60)

    def _fire(self, timer: TimerFunction, past_due: bool) -> None:
        logger.info("Timer %s fired%s", timer.name, " (past due)" if past_due else "")
        try:
            self._host.run_timer(timer.name, past_due)
        except Exception:
            logger.exception("Timer %s raised", timer.name)
