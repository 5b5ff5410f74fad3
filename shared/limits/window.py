"""Attempts per key in a fixed window, counted in this process's memory: for the limits that
must cost no round trip (token, rates, sign-in, and every per-address limit). Each instance of
the app counts on its own, so with N instances a client may get up to N times the limit: these
limits stop floods and scripts, not a patient attacker (the limits that guard money are kept in
Table Storage, global: shared.limits.velocity, shared.limits.purchases).

Memory is bounded: keys whose window has passed are dropped as new keys arrive, and past
`max_keys` the oldest window is forgotten (a forgotten key starts afresh, which errs on letting
someone through rather than on growing without end).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Window:
    started: float
    count: int


@dataclass
class WindowCounter:
    """At most `limit` hits per key in `window_seconds`, from the key's first hit."""

    limit: int
    window_seconds: float
    max_keys: int = 10_000
    clock: Callable[[], float] = time.monotonic
    # Oldest window first: a key moves to the end when its window starts again.
    _windows: OrderedDict[str, _Window] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def hit(self, key: str) -> int | None:
        """Counts a hit of `key`: None when allowed, else the seconds until the key's window
        frees (the refused hit is not counted)."""
        now = self.clock()
        with self._lock:
            self._drop_expired(now)
            window = self._windows.get(key)
            if window is None or now - window.started >= self.window_seconds:
                self._windows.pop(key, None)
                while len(self._windows) >= self.max_keys:
                    self._windows.popitem(last=False)
                self._windows[key] = _Window(now, 1)
                return None
            if window.count >= self.limit:
                return max(1, math.ceil(window.started + self.window_seconds - now))
            window.count += 1
            return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._windows)

    def _drop_expired(self, now: float) -> None:
        # Windows are in the order they started, so the expired ones are at the front.
        while self._windows:
            oldest = next(iter(self._windows.values()))
            if now - oldest.started < self.window_seconds:
                return
            self._windows.popitem(last=False)
