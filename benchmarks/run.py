"""Figures worth watching, measured side by side in one run and printed as one table, with
the machine it ran on: `scripts/bench`.

- cold start: loading the app against a bare `import azure.functions`, and a cold process's
  first /api/token against the least a token mint can do (benchmarks/cold_start.py), as CPU
  seconds; and importing function_app as deployed against importing the heavy SDKs eagerly;
- the ledger against Azurite: posts per second serially; 20 threads on 20 accounts; 20
  threads on one account within one process (they take turns on an in-process lock) against
  20 instances on one account (every race decided by ETag conflicts and retries);
- the retention run against Azurite: rows deleted per second over N due call rows
  (benchmarks/retention.py);
- the data export of 10,000 calls: seconds and peak memory added (benchmarks/export.py);
- Table Storage round trips per operation against its floor (tests/round_trips.py), counted
  by the app's own azure-core policy and read from each answer's X-Storage-Round-Trips;
- the final status callback's latency with one client and with 16 at once, their ratio, and
  the CPU per callback that bounds it on this machine (benchmarks/concurrency.py);
- latency through the local host: a balance read, a whole billed call, a Stripe payment;
- rate lookups per second on a generated 50,000-prefix deck against a plain dict
  (benchmarks/rates.py);
- the site's own JS and CSS gzipped against its budget, and the vendored Voice SDK beside it
  (benchmarks/site_budget.py).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import (  # noqa: E402
    cold_start,
    concurrency,
    export,
    rates,
    retention,
    site_budget,
    webhooks,
)
from local_host.azurite import Azurite, free_port  # noqa: E402
from shared.money.ledger import EntryKind, Ledger  # noqa: E402
from shared.storage.table_store import TableStore  # noqa: E402
from tests import round_trips  # noqa: E402
from tests.servers import LocalHost  # noqa: E402

HEAVY = "import stripe, twilio.rest, msal, azure.monitor.opentelemetry"
# One bench user places hundreds of calls an hour: past the velocity limits meant for people.
BENCH_LIMITS = {"CALLS_PER_HOUR": "10000", "DESTINATIONS_PER_DAY": "10000"}


def import_seconds(code: str, runs: int = 5) -> float:
    # The sample settings, so that the app loads as it does when deployed (no settings error).
    env = cold_start.app_environment("UseDevelopmentStorage=true")
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def posts_per_second(
    make_ledger: Callable[[], Ledger], threads: int, accounts: int, posts: int, shared: bool = True
) -> float:
    """With shared=False each thread has its own Ledger, as separate instances would."""
    run = uuid.uuid4().hex[:8]
    common = make_ledger()

    def work(worker: int) -> None:
        ledger = common if shared else make_ledger()
        account = f"bench-{run}-{worker % accounts}"
        for n in range(posts // threads):
            ledger.post(account, f"{run}-{worker}-{n}", 1, EntryKind.ADJUSTMENT)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    return posts / (time.perf_counter() - start)


@dataclass(frozen=True)
class Figure:
    group: str
    label: str
    value: str
    against: str = ""  # the target, floor or baseline it is read against
    verdict: str = ""  # "meets" / "MISSES" where there is a target


class Table:
    """Every figure of the run, printed once at the end as one table."""

    def __init__(self) -> None:
        self.figures: list[Figure] = []
        self.group = ""

    def section(self, group: str) -> None:
        self.group = group
        print(f"measuring: {group} ...", file=sys.stderr, flush=True)

    def add(self, label: str, value: str, against: str = "", meets: bool | None = None) -> None:
        verdict = "" if meets is None else ("meets" if meets else "MISSES")
        self.figures.append(Figure(self.group, label, value, against, verdict))

    def print(self, machine: str, seconds: float) -> None:
        print(f"Machine: {machine}; the whole run took {seconds:.0f} s")
        widths = [max(len(getattr(f, name)) for f in self.figures) for name in ("label", "value")]
        group = None
        for f in self.figures:
            if f.group != group:
                group = f.group
                print(group)
            line = f"  {f.label:<{widths[0]}}  {f.value:>{widths[1]}}"
            if f.against:
                line += f"  {f.against}"
            if f.verdict:
                line += f": {f.verdict}"
            print(line.rstrip())


def main() -> None:
    began = time.perf_counter()
    machine = f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    table = Table()
    azurite = Azurite(free_port()).start()
    try:
        table.section("Cold start, CPU seconds in a fresh interpreter (median of 15, in turns)")
        for ratio in cold_start.measure(azurite.connection_string, runs=15):
            seconds = f"{ratio.measured:.3f} s / {ratio.floor:.3f} s"
            table.add(
                ratio.label,
                f"{ratio.ratio:.2f}x",
                f"{seconds}, <= {ratio.target}x",
                ratio.meets_target,
            )
        lazy = import_seconds("import function_app")
        eager = import_seconds(f"import function_app; {HEAVY}")
        table.add("import function_app (wall, as deployed)", f"{lazy:.2f} s")
        extra = f"{eager - lazy:+.2f} s"
        table.add("... with the heavy SDKs loaded eagerly", f"{eager:.2f} s", extra)
    finally:
        azurite.stop()

    azurite = Azurite(free_port()).start()
    host = LocalHost(azurite.connection_string, BENCH_LIMITS).start()
    try:
        store = TableStore(azurite.connection_string)
        table.section("Table Storage round trips per operation (median of 5; requests beside)")
        costs = round_trips.median_costs(round_trips.Caller(host.base_url, store), 5)
        for floor in round_trips.FLOORS:
            cost = costs[floor.operation]
            table.add(
                floor.operation,
                f"{cost.rounds} ({cost.requests} req)",
                f"floor {floor.floor}",
                cost.rounds <= floor.floor,
            )
        table.section(
            f"Final status callback, {concurrency.CLIENTS} clients at once on as many accounts"
        )
        running = (host.process.pid if host.process else None, azurite.pid)
        pids = tuple(pid for pid in running if pid)
        latency = concurrency.measure(host.base_url, store, pids)
        table.add("lone client, p50", f"{latency.lone_p50_ms:.1f} ms")
        table.add(f"{concurrency.CLIENTS} clients, p50", f"{latency.crowd_p50_ms:.1f} ms")
        table.add(f"{concurrency.CLIENTS} clients, p99", f"{latency.crowd_p99_ms:.1f} ms")
        table.add("p99 / lone p50", f"{latency.ratio:.2f}x", "<= 3x", latency.ratio <= 3)
        table.add(
            "CPU per callback (host + Azurite, lone)",
            f"{latency.cpu_ms_per_callback:.1f} ms",
            f"so on {os.cpu_count()} cores p99 / p50 >= {latency.cpu_bound_ratio:.2f}x",
        )
        table.section("Through the local host (sequential requests, median)")
        webhooks.measure_on(host.base_url, store, table.add)
    finally:
        host.stop()
        azurite.stop()

    table.section("Rate lookups, a generated deck of 50,000 prefixes")
    deck, plain = rates.lookups_per_second()
    table.add("RateDeck.lookup", f"{deck / 1000:.0f}k /s", f"a plain dict: {plain / 1000:.0f}k /s")

    azurite = Azurite(free_port()).start()
    try:
        table.section("Ledger against Azurite (in memory)")
        ledger_table = TableStore(azurite.connection_string).table("bench")

        def make() -> Ledger:
            return Ledger(ledger_table)

        cases: list[tuple[str, Callable[[], float]]] = [
            ("serial, 1 account", lambda: posts_per_second(make, 1, 1, 200)),
            ("20 threads, 20 accounts", lambda: posts_per_second(make, 20, 20, 400)),
            ("20 threads, 1 account, one process", lambda: posts_per_second(make, 20, 1, 200)),
            (
                "20 threads, 1 account, 20 instances (ETags)",
                lambda: posts_per_second(make, 20, 1, 200, shared=False),
            ),
        ]
        for label, measure in cases:
            table.add(label, f"{measure():.0f} posts/s")
        deleted, rate = retention.rows_per_second(azurite.connection_string)
        table.add(f"retention run, {deleted} due rows", f"{rate:.0f} rows/s")
    finally:
        azurite.stop()

    azurite = Azurite(free_port()).start()
    try:
        table.section("The data export against Azurite (in memory), in a fresh process")
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "export.zip"
            store = TableStore(azurite.connection_string)
            figures = export.export_in_fresh_process(store, azurite.connection_string, 10_000, out)
            size = f"archive {out.stat().st_size / 2**20:.2f} MB"
        table.add("10,000 calls (and their history rows)", f"{figures['seconds']:.1f} s", size)
        peak = figures["peak_bytes"] / 2**20
        table.add("... peak memory added (RSS)", f"{peak:.1f} MB", "<= 16 MB", peak <= 16)
    finally:
        azurite.stop()

    table.section("The site, gzipped (level 9, each file, summed)")
    sizes = site_budget.gzipped_sizes()
    total = sum(sizes.values())
    table.add(
        f"own JS + CSS ({len(sizes)} files)",
        f"{total / 1024:.1f} KB",
        f"<= {site_budget.BUDGET_BYTES / 1024:.0f} KB",
        total <= site_budget.BUDGET_BYTES,
    )
    vendored = site_budget.vendored_gzipped_bytes() / 1024
    table.add("vendored Voice + App Insights SDKs", f"{vendored:.1f} KB")
    table.print(machine, time.perf_counter() - began)


if __name__ == "__main__":
    main()
