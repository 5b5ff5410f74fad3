"""Request latency through the local host against Azurite, sequential requests: a balance
read, a whole billed call (voice webhook and four status callbacks), and a Stripe payment
webhook. Latency here is mostly Azurite's and the local host's; the figures are for
comparing changes, side by side, on one machine."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from shared.storage.table_store import TableStore
from tests.round_trips import Caller

Add = Callable[[str, str, str], None]


def billed_call(caller: Caller) -> None:
    """Voice, then the leg's four status callbacks; billed 61 s."""
    call = caller.call()
    for sequence, status in enumerate(("initiated", "ringing", "in-progress")):
        call.status(status, sequence)
    call.status("completed", 3, duration=61)


def timings(action: Callable[[], Any], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def measure_on(base_url: str, table_store: TableStore, add: Add) -> None:
    caller = Caller(base_url, table_store)
    cases: list[tuple[str, Callable[[], Any], int]] = [
        ("GET /api/balance", caller.balance, 200),
        ("a billed call: voice + 4 callbacks", lambda: billed_call(caller), 50),
        ("Stripe checkout.session.completed", caller.payment, 100),
    ]
    for label, action, runs in cases:
        median, p95 = timings(action, runs)
        add(label, f"{median:.1f} ms", f"p95 {p95:.1f} ms, n={runs}")
