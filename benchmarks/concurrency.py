"""Latency of the final status callback (the one that settles a call) with one client, and
with 16 clients at once on 16 accounts, through the local host against Azurite.

Each round places one call per account (not timed: one call per account can be open), then
sends every call's final callback at the same moment, one client each, and times each answer.
The lone figure is the same with one account and one client.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from shared.storage.table_store import TableStore
from tests.round_trips import Call, Caller


def _settle_timed(call: Call, start: threading.Barrier | None) -> float:
    if start is not None:
        start.wait()
    began = time.perf_counter()
    call.status("completed", 3, duration=61)
    return (time.perf_counter() - began) * 1000


def final_callback_ms(
    base_url: str, table_store: TableStore, clients: int, rounds: int
) -> list[float]:
    callers = [Caller(base_url, table_store) for _ in range(clients)]
    samples: list[float] = []
    with ThreadPoolExecutor(clients) as pool:
        for _ in range(rounds):
            calls = list(pool.map(lambda caller: caller.call(), callers))
            start = threading.Barrier(clients) if clients > 1 else None
            samples += pool.map(_settle_timed, calls, [start] * clients)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def latency(base_url: str, table_store: TableStore) -> dict[str, float]:
    """Lone p50, and p50 and p99 with 16 clients; each from 320 callbacks."""
    final_callback_ms(base_url, table_store, 16, 2)  # warm the pools and the process
    lone = final_callback_ms(base_url, table_store, 1, 320)
    crowd = final_callback_ms(base_url, table_store, 16, 20)
    return {
        "lone p50": statistics.median(lone),
        "16 p50": statistics.median(crowd),
        "16 p99": percentile(crowd, 0.99),
    }
