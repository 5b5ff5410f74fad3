"""Figures worth watching, measured side by side in one run: `scripts/bench`.

- cold start: loading the app against a bare `import azure.functions`, and a cold process's
  first /api/token against the least a token mint can do (benchmarks/cold_start.py), as CPU
  seconds; and importing function_app as deployed against importing the heavy SDKs eagerly;
- the ledger against Azurite: posts per second serially; 20 threads on 20 accounts; 20
  threads on one account within one process (they take turns on an in-process lock) against
  20 instances on one account (every race decided by ETag conflicts and retries);
- the retention run against Azurite: rows deleted per second over N due call rows
  (benchmarks/retention.py);
- the data export of 10,000 calls: seconds and peak memory added (benchmarks/export.py);
- latency through the local host: a balance read, a whole billed call, a Stripe payment;
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import cold_start, export, retention, site_budget, webhooks  # noqa: E402
from local_host.azurite import Azurite, free_port  # noqa: E402
from shared.money.ledger import EntryKind, Ledger  # noqa: E402
from shared.storage.table_store import TableStore  # noqa: E402

HEAVY = "import stripe, twilio.rest, msal, azure.monitor.opentelemetry"


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


def row(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<44} {value:>12}  {note}")


def main() -> None:
    machine = f"{platform.platform()}, {os.cpu_count()} cores"
    print(f"Machine: {machine}, Python {platform.python_version()}")
    azurite = Azurite(free_port()).start()
    try:
        print("Cold start, CPU seconds in a fresh interpreter (median of 15, run in turns)")
        for ratio in cold_start.measure(azurite.connection_string, runs=15):
            verdict = "meets" if ratio.meets_target else "MISSES"
            seconds = f"{ratio.measured:.3f} s / {ratio.floor:.3f} s"
            row(ratio.label, f"{ratio.ratio:.2f}x", f"{seconds}; <= {ratio.target}x: {verdict}")
        lazy = import_seconds("import function_app")
        eager = import_seconds(f"import function_app; {HEAVY}")
        row("import function_app (wall, as deployed)", f"{lazy:.2f} s")
        row("... with the heavy SDKs loaded eagerly", f"{eager:.2f} s", f"{eager - lazy:+.2f} s")
    finally:
        azurite.stop()

    print("Ledger against Azurite (in memory)")
    azurite = Azurite(free_port()).start()
    try:
        table = TableStore(azurite.connection_string).table("bench")

        def make() -> Ledger:
            return Ledger(table)

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
            row(label, f"{measure():.0f} posts/s")
        deleted, rate = retention.rows_per_second(azurite.connection_string)
        row(f"retention run, {deleted} due rows", f"{rate:.0f} rows/s")
    finally:
        azurite.stop()

    print("The data export against Azurite (in memory), in a fresh process")
    azurite = Azurite(free_port()).start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "export.zip"
            store = TableStore(azurite.connection_string)
            figures = export.export_in_fresh_process(store, azurite.connection_string, 10_000, out)
            size = f"archive {out.stat().st_size / 2**20:.2f} MB"
        row("10,000 calls (and their history rows)", f"{figures['seconds']:.1f} s", size)
        row("... peak memory added (RSS)", f"{figures['peak_bytes'] / 2**20:.1f} MB", "<= 16 MB")
    finally:
        azurite.stop()

    print("Through the local host (sequential requests, median)")
    webhooks.measure(row)

    print("The site, gzipped (level 9, each file, summed)")
    sizes = site_budget.gzipped_sizes()
    total = sum(sizes.values())
    verdict = "meets" if total <= site_budget.BUDGET_BYTES else "MISSES"
    budget = f"<= {site_budget.BUDGET_BYTES / 1024:.0f} KB: {verdict}"
    row(f"own JS + CSS ({len(sizes)} files)", f"{total / 1024:.1f} KB", budget)
    row(
        "vendored Voice + App Insights SDKs",
        f"{site_budget.vendored_gzipped_bytes() / 1024:.1f} KB",
    )


if __name__ == "__main__":
    main()
