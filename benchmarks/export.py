"""The data export of a user with many calls: how long it takes and how much memory it adds
at its peak, measured in a fresh process (benchmarks/run.py prints it; the memory test of
tests/integration/test_export_memory.py asserts its bound with the same code).

Resident memory, not tracemalloc: RSS counts what tracemalloc cannot see (zlib's and the
archive's buffers) and costs nothing, where tracemalloc makes the export six times slower.
Linux resets a process's high-water mark (VmHWM) on writing 5 to /proc/self/clear_refs, so the
peak is the export's own; and a fresh process has no freed memory of earlier work to hide the
export's in.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.config import PrivacySettings, SessionSettings
from shared.privacy.export import Exporter
from shared.storage.keys import ACCOUNTS_TABLE, PROFILE_KEY, call_history_key, call_key
from shared.storage.rows import MAX_TRANSACTION_OPS, Insert, Op, Value
from shared.storage.table_store import TableStore

REPO = Path(__file__).resolve().parent.parent


def status_kb(name: str) -> int:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(name))
    return int(line.split()[1])


def a_call(user_id: str, n: int, started: datetime) -> dict[str, Value]:
    """A settled call row as settling writes it."""
    return {
        "call_sid": f"CA{n:032x}",
        "user_id": user_id,
        "to": f"+4420794{n:05d}",
        "country": "GB",
        "description": "United Kingdom landline",
        "rate_prefix": "44",
        "rate_country": "GB",
        "per_minute_micros": 15_000,
        "first_increment": 60,
        "next_increment": 1,
        "connect_fee_micros": 0,
        "max_seconds": 4000,
        "started_at": started,
        "history_key": call_history_key(int(started.timestamp() * 1e6), f"CA{n:032x}"),
        "status": "completed",
        "sequence": 3,
        "child_sid": f"CA{n + 1:032x}",
        "answered_at": started + timedelta(seconds=5),
        "ended_at": started + timedelta(seconds=80),
        "duration_seconds": 75,
        "billed_seconds": 75,
        "charge_micros": -18_750,
        "settled_by": "status callback",
    }


def write_account(table_store: TableStore, user_id: str, calls: int) -> None:
    """A profile and `calls` calls, each with its history row, in batched transactions."""
    accounts = table_store.table(ACCOUNTS_TABLE)
    now = datetime.now(UTC)
    accounts.commit(
        user_id,
        [
            Insert(
                PROFILE_KEY,
                {"email": "many@example.com", "provider": "dev", "created_at": now},
            )
        ],
    )
    ops: list[Op] = []
    for n in range(calls):
        call = a_call(user_id, n, now - timedelta(minutes=n))
        ops += [
            Insert(call_key(str(call["call_sid"])), call),
            Insert(str(call["history_key"]), call),
        ]
    batches = [ops[i : i + MAX_TRANSACTION_OPS] for i in range(0, len(ops), MAX_TRANSACTION_OPS)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda batch: accounts.commit(user_id, batch), batches))


def measure(connection: str, user_id: str, empty: str, out: str) -> None:
    """In the fresh process: warm up on an account of no calls (tables created, modules and
    the SDK's caches loaded), reset the high-water mark, export, and report."""
    table_store = TableStore(connection)
    exporter = Exporter(
        tables=table_store.table,
        privacy=PrivacySettings(exports_per_user_per_hour=100),
        sessions=SessionSettings(2592000, 604800, 600),
        currency="USD",
    )
    exporter.export(empty)
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    baseline_kb = status_kb("VmRSS:")
    started = time.perf_counter()
    archive = exporter.export(user_id)
    seconds = time.perf_counter() - started
    peak = (status_kb("VmHWM:") - baseline_kb) * 1024
    Path(out).write_bytes(archive.body)
    print(json.dumps({"seconds": seconds, "peak_bytes": peak}))


def export_in_fresh_process(
    table_store: TableStore, connection: str, calls: int, out: Path
) -> dict[str, float]:
    """Writes an account of `calls` calls, exports it in a fresh process into `out`, and
    returns {"seconds", "peak_bytes"}."""
    user_id, empty = "u" + uuid.uuid4().hex, "u" + uuid.uuid4().hex
    write_account(table_store, user_id, calls)
    table_store.table(ACCOUNTS_TABLE).commit(empty, [Insert(PROFILE_KEY, {"provider": "dev"})])
    code = "import sys; from benchmarks.export import measure; measure(*sys.argv[1:])"
    done = subprocess.run(
        [sys.executable, "-c", code, connection, user_id, empty, str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures
