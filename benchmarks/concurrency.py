"""Latency of the final status callback (the one that settles a call) with one client, and
with 16 clients at once on 16 accounts, through the local host against Azurite.

Each round places one call per account (not timed: an account has one call open at a time),
then sends every call's final callback at the same moment, one client each, and times each
answer. The lone figures are the same with one account and one client, and with them the CPU
time the host and Azurite spend per callback (from /proc), which bounds what 16 at once can
do on this machine: 16 callbacks' work shared by its cores takes at least
16 x CPU per callback / cores, however well nothing else queues.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from shared.storage.table_store import TableStore
from tests.round_trips import Call, Caller

CLIENTS = 16
SAMPLES = 320


@dataclass(frozen=True)
class Latency:
    lone_p50_ms: float
    crowd_p50_ms: float
    crowd_p99_ms: float
    cpu_ms_per_callback: float  # the host's and Azurite's together, in the lone run

    @property
    def ratio(self) -> float:
        return self.crowd_p99_ms / self.lone_p50_ms

    @property
    def cpu_bound_ratio(self) -> float:
        """The least p99 / lone p50 this machine allows: 16 callbacks' CPU over its cores."""
        return CLIENTS * self.cpu_ms_per_callback / (os.cpu_count() or 1) / self.lone_p50_ms


def _settle_timed(call: Call, start: threading.Barrier | None) -> float:
    if start is not None:
        start.wait()
    began = time.perf_counter()
    call.status("completed", 3, duration=61)
    return (time.perf_counter() - began) * 1000


def final_callback_ms(callers: list[Caller], rounds: int) -> list[float]:
    samples: list[float] = []
    with ThreadPoolExecutor(len(callers)) as pool:
        for _ in range(rounds):
            calls = list(pool.map(lambda caller: caller.call(), callers))
            start = threading.Barrier(len(callers)) if len(callers) > 1 else None
            samples += pool.map(_settle_timed, calls, [start] * len(calls))
    return samples


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def measure(base_url: str, table_store: TableStore, pids: tuple[int, ...]) -> Latency:
    crowd_callers = [Caller(base_url, table_store) for _ in range(CLIENTS)]
    final_callback_ms(crowd_callers, 2)  # warm the pools and the process
    lone_caller = Caller(base_url, table_store)
    lone, cpu = [], 0.0
    for _ in range(SAMPLES):
        call = lone_caller.call()
        before = sum(cpu_seconds(pid) for pid in pids)
        lone.append(_settle_timed(call, None))
        # Clock ticks (10 ms), so only the sum over every callback means anything.
        cpu += sum(cpu_seconds(pid) for pid in pids) - before
    crowd = final_callback_ms(crowd_callers, SAMPLES // CLIENTS)
    return Latency(
        statistics.median(lone),
        statistics.median(crowd),
        percentile(crowd, 0.99),
        cpu * 1000 / SAMPLES,
    )
