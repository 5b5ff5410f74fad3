"""Runs timer functions on their NCRONTAB schedules ('sec min hour day month weekday').

A schedule written %NAME% is the app setting NAME, as the Functions host resolves it: the
schedule then changes with the settings, without a deployment (RETENTION_SCHEDULE).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from croniter import croniter

from local_host.functions_host import FunctionsHost, TimerFunction

logger = logging.getLogger("local_host")

_SETTING = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%")


class ScheduleError(Exception):
    """A timer's schedule cannot be used; the message says why, naming the setting."""


def resolve_schedule(name: str, schedule: str, env: Mapping[str, str]) -> str:
    """The NCRONTAB schedule of timer `name`: `schedule` itself, or the app setting it names
    as %SETTING%; ScheduleError when the setting is unset or either is not six fields."""
    setting = _SETTING.fullmatch(schedule.strip())
    source = f"The schedule of timer {name}"
    if setting is not None:
        setting_name = setting.group(1)
        source = f"The setting {setting_name} (the schedule of timer {name})"
        value = env.get(setting_name, "").strip()
        if not value:
            # The Functions host does not run the function either: "'%NAME%' does not
            # resolve to a value".
            raise ScheduleError(f"{source} is not set; it must be an NCRONTAB expression.")
        schedule = value
    if len(schedule.split()) != 6 or not croniter.is_valid(schedule, second_at_beginning=True):
        raise ScheduleError(
            f"{source} must be an NCRONTAB expression of six fields (second minute hour day "
            f"month weekday), like 0 30 3 * * *, not {schedule!r}."
        )
    return schedule


class TimerRunner:
    def __init__(self, host: FunctionsHost, env: Mapping[str, str] | None = None) -> None:
        self._host = host
        # The app settings: the environment, where the host put local.settings.json's Values.
        self._env = os.environ if env is None else env
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for timer in self._host.timers:
            try:
                schedule = resolve_schedule(timer.name, timer.schedule, self._env)
            except ScheduleError as error:
                # As the Functions host does: this function is in error, the others run.
                logger.error("Timer %s is not armed: %s", timer.name, error)
                continue
            # Logged so that a host with timers can be told from one started with --no-timers.
            logger.info("Timer %s runs on the schedule %r", timer.name, schedule)
            thread = threading.Thread(target=self._loop, args=(timer, schedule), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Ends the waits, and gives a run under way a moment to finish before the storage
        it writes to is stopped."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(self, timer: TimerFunction, cron: str) -> None:
        if timer.run_on_startup:
            self._fire(timer, past_due=False)
        schedule = croniter(cron, datetime.now(UTC), second_at_beginning=True)
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
