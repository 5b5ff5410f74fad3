"""The retention run's throughput against Azurite: rows deleted per second, on N seeded call
rows (calls and their history rows, in accounts of 100 calls each), all of them due."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from shared.config import PrivacySettings, SessionSettings
from shared.privacy.retention import Retention
from shared.storage import keys
from shared.storage.rows import Insert
from shared.storage.table_store import TableStore


def rows_per_second(connection_string: str, calls: int = 2000) -> tuple[int, float]:
    """(rows deleted, rows per second) of one run over `calls` due calls."""
    suffix = "bench" + uuid.uuid4().hex[:8]
    store = TableStore(connection_string)
    accounts = store.table(keys.ACCOUNTS_TABLE + suffix)
    started = datetime(2020, 1, 1, tzinfo=UTC)
    for account in range(calls // 50):
        user_id = "u" + uuid.uuid4().hex
        ops = []
        for n in range(50):
            sid = f"CA{account:04d}{n:028d}"
            data = {"call_sid": sid, "started_at": started}
            history = keys.call_history_key(int(started.timestamp() * 1e6) + n, sid)
            ops += [Insert(keys.call_key(sid), data), Insert(history, data)]
        accounts.commit(user_id, ops)
    run = Retention(
        table=lambda name: store.table(name + suffix),
        privacy=PrivacySettings(),
        sessions=SessionSettings(30 * 86400, 7 * 86400, 600),
        clock=lambda: started + timedelta(days=365),
    ).run()
    return run.total, run.total / run.seconds
