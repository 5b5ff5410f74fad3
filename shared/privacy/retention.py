"""The retention run: every period of the registry's retention rules, applied once a day.

Each step below names the registry kinds whose rule it applies and finds their due rows with
one server-side filtered query over the kind's table (RowKey range from the kind, a time
field against a cutoff from the settings), so only the rows to delete travel. It deletes them
in entity-group transactions of at most 100 rows of one partition, each row on the ETag it was
read with: a row changed since (a session renewed, a verification restarted) is left for the
next run, and a row already gone is no error. So running twice deletes nothing more.

A run stops after RUN_ROW_BUDGET deletions or RUN_SECONDS, saving the step and the query
position it got to in one row (table `retention`), and the next run goes on from there and
round the steps until it is back where it started. Nothing it logs names anyone: the summary
holds counts by kind.

Plain decisions over the table store's Table; no SDK here.
"""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from shared.callerid.caller_ids import PENDING_LIFETIME, is_lapsed, release_owner
from shared.config import PrivacySettings, SessionSettings
from shared.privacy.registry import RecordKind, kind_named, kind_of
from shared.storage import keys
from shared.storage.errors import BadContinuation, RowChanged
from shared.storage.rows import MAX_TRANSACTION_OPS, Remove, Replace, Row, ScanPage, Value

if TYPE_CHECKING:
    from shared.storage.table_store import Table

logger = logging.getLogger("ownnumber.retention")

# A run's budget. The Functions host stops a function after functionTimeout (host.json: five
# minutes); a run that stops itself well before that saves where it got to, one that is killed
# starts its step again. Rows: each deletion is a write to someone's partition, and a day's
# backlog after an outage (or the first run over old data) is spread over a few nights rather
# than spent in one burst against the accounts table.
RUN_SECONDS = 240.0
RUN_ROW_BUDGET = 50_000
# Rows per page of every query: Table Storage's own maximum.
PAGE_ROWS = 1000
# The registry's checkout rule: a Stripe Checkout Session lasts at most a day; its outcome
# stays readable for a week.
CHECKOUT_LIFETIME = timedelta(days=7)
# A deletion still unfinished this long after it began was cut short (one finishes within a
# request): resuming a younger one could race the request still running it.
ERASURE_GRACE = timedelta(hours=1)

# A pseudonym's partition, exactly: the run deletes whole partitions named in the archive
# index, so nothing else (a live account is "u" + 32 hex) may ever be taken for one.
_PSEUDONYM = re.compile(re.escape(keys.PSEUDONYM_PREFIX) + r"[0-9a-f]{32}")


class UnfinishedErasures(Protocol):
    """The seam for account deletion (shared.privacy.erasure): deletions cut short, resumed.

    The integrator passes the erasure module's object (bootstrap, Services.unfinished_erasures);
    until then the run has none and resumes nothing.
    """

    def unfinished(self, older_than: datetime) -> Iterable[str]:
        """The user ids of deletions begun before `older_than` and not finished."""
        ...

    def resume(self, user_id: str) -> object:
        """Finishes one of them, exactly as it began."""
        ...


@dataclass
class Summary:
    """What one run did, in counts only."""

    deleted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Calls past their retention kept because they are not settled yet.
    unsettled_kept: int = 0
    # Books whose index row names no pseudonym, or whose own archive row says "not yet".
    archives_refused: int = 0
    erasures_resumed: int = 0
    erasures_failed: int = 0
    # The whole round of steps was done; otherwise the next run goes on from `stopped_at`.
    finished: bool = False
    stopped_at: str | None = None
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.deleted.values())

    def line(self) -> str:
        """The one log line of a run: counts by kind, never a key or a value."""
        kinds = ", ".join(f"{name} {n}" for name, n in sorted(self.deleted.items()) if n)
        outcome = "round finished" if self.finished else f"stopped in {self.stopped_at}, goes on"
        return (
            f"Retention: {self.total} row(s) deleted ({kinds or 'none due'}); "
            f"{self.unsettled_kept} unsettled call(s) kept; {self.archives_refused} archive(s) "
            f"refused; {self.erasures_resumed} deletion(s) resumed, {self.erasures_failed} "
            f"failed; {outcome}; {self.seconds:.1f} s"
        )


class _Spent(Exception):
    """The run's budget is spent: the step stops and the run saves where it got to."""


@dataclass
class _Budget:
    rows: int
    ends_at: float
    monotonic: Callable[[], float]

    def take(self, wanted: int) -> int:
        """How many of `wanted` deletions may go now (at least one), or _Spent."""
        if self.rows <= 0 or self.monotonic() >= self.ends_at:
            raise _Spent
        return min(wanted, self.rows)

    def spend(self, rows: int) -> None:
        self.rows -= rows


@dataclass(frozen=True)
class Step:
    """One sweep of the run: the registry kinds whose retention rule it applies."""

    name: str
    kinds: tuple[str, ...]
    # (the run, the query position to go on from) -> None; raises _Paused(position).
    sweep: Callable[[Retention, str | None], None]


class _Paused(Exception):
    def __init__(self, position: str | None) -> None:
        super().__init__(position)
        self.position = position


@dataclass
class Retention:
    # A table by its name (the store's `table`): the steps take each kind's table from the
    # registry, so tests can give every name a table of its own.
    table: Callable[[str], Table]
    privacy: PrivacySettings
    sessions: SessionSettings
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    erasures: UnfinishedErasures | None = None
    row_budget: int = RUN_ROW_BUDGET
    seconds: float = RUN_SECONDS
    monotonic: Callable[[], float] = time.monotonic
    _now: datetime = field(init=False, repr=False, default=datetime.min.replace(tzinfo=UTC))
    _budget: _Budget = field(init=False, repr=False)
    _summary: Summary = field(init=False, repr=False)

    def run(self) -> Summary:
        """One run: from where the last one stopped, round every step, within the budget."""
        started = self.monotonic()
        self._now = self.clock()
        self._budget = _Budget(self.row_budget, started + self.seconds, self.monotonic)
        self._summary = summary = Summary()
        progress_table = self.table(keys.RETENTION_TABLE)
        here, key = keys.RETENTION_PARTITION, keys.RETENTION_PROGRESS_KEY
        saved = progress_table.get(here, key)
        names = [step.name for step in STEPS]
        first, position = 0, None
        if saved is not None and saved.text("step") in names:
            first, position = names.index(saved.text("step")), saved.text("position") or None
        order = STEPS[first:] + STEPS[:first]
        for index, step in enumerate(order):
            try:
                try:
                    step.sweep(self, position if index == 0 else None)
                except BadContinuation:
                    # A saved position no longer readable (a change of this code's layout):
                    # the step starts over, which deletes nothing twice.
                    step.sweep(self, None)
            except _Paused as paused:
                summary.stopped_at = step.name
                data: dict[str, Value] = {"step": step.name, "position": paused.position or ""}
                progress_table.commit(here, [Replace(key, data)])
                break
        else:
            summary.finished = True
            if saved is not None:
                try:
                    progress_table.commit(here, [Remove(key)])
                except RowChanged:
                    pass  # another run finished its round too
        summary.seconds = self.monotonic() - started
        return summary

    # --- the steps ------------------------------------------------------------------------

    def _calls(self, position: str | None) -> None:
        self._sweep_calls(kind_named("call"), position)

    def _call_history(self, position: str | None) -> None:
        self._sweep_calls(kind_named("call_history"), position)

    def _sweep_calls(self, kind: RecordKind, position: str | None) -> None:
        """Calls (and their history rows) started more than CALL_RETENTION_DAYS ago, but never
        one that is not settled: its hold or its open-call index row still points at it."""
        cutoff = self._now - timedelta(days=self.privacy.call_retention_days)
        # The open-call index holds only the calls in progress (one small partition): read
        # once, rather than a point read for every call due.
        open_calls = self.table(keys.OPEN_CALLS_TABLE)
        still_open = {row.key for row in open_calls.rows(keys.OPEN_CALLS_PARTITION)}
        accounts = self.table(kind.table)
        holds: dict[str, str] = {}

        def unsettled(partition: str, row: Row) -> bool:
            call_sid = row.text("call_sid")
            if partition not in holds:
                hold = accounts.get(partition, keys.HOLD_KEY)
                holds[partition] = hold.text("call_sid") if hold else ""
            if not call_sid or holds[partition] == call_sid:
                return True
            return f"{partition}:{call_sid}" in still_open  # keys.open_call_key's layout

        def keep(partition: str, row: Row) -> bool:
            if unsettled(partition, row):
                self._summary.unsettled_kept += 1
                return True
            return False

        self._sweep(kind, "started_at le @cutoff", {"cutoff": cutoff}, position, keep)

    def _sessions(self, position: str | None) -> None:
        """Sessions that have ended: past their absolute end or idle end (as
        shared.identity.sessions computes liveness: live while now < both ends)."""
        absolute = self._now - timedelta(seconds=self.sessions.absolute_seconds)
        idle = self._now - timedelta(seconds=self.sessions.idle_seconds)
        self._sweep(
            kind_named("session"),
            "created_at le @absolute or last_seen_at le @idle",
            {"absolute": absolute, "idle": idle},
            position,
        )

    def _auth_flows(self, position: str | None) -> None:
        """Sign-ins never finished, past their expires_at (their own module refuses them)."""
        self._sweep(kind_named("auth_flow"), "expires_at le @now", {"now": self._now}, position)

    def _checkouts(self, position: str | None) -> None:
        cutoff = self._now - CHECKOUT_LIFETIME
        self._sweep(kind_named("checkout"), "created_at le @cutoff", {"cutoff": cutoff}, position)

    def _limit_counters(self, position: str | None) -> None:
        """Attempt counters whose hour has passed."""
        self._sweep(kind_named("limit_counter"), "until le @now", {"now": self._now}, position)

    def _caller_ids(self, position: str | None) -> None:
        """Verifications pending past PENDING_LIFETIME: the number's index row is let go (if
        it is still this attempt's, as shared.callerid does), then the user's record."""
        kind = kind_named("caller_id")
        owners = self.table(keys.CALLER_ID_OWNERS_TABLE)

        def release(partition: str, row: Row) -> bool:
            if not is_lapsed(row, self._now):
                return True
            number, attempt = row.text("number"), row.text("attempt")
            if number and attempt and release_owner(owners, partition, number, attempt):
                self._budget.spend(1)
                self._summary.deleted["caller_id_owner"] += 1
            return False

        where = "state eq 'pending' and started_at le @cutoff"
        self._sweep(kind, where, {"cutoff": self._now - PENDING_LIFETIME}, position, release)

    def _caller_id_owners(self, position: str | None) -> None:
        """Index rows of lapsed verifications whose record no longer holds them (a start cut
        short before it wrote the record, or a record removed since): the number is free."""
        kind = kind_named("caller_id_owner")
        accounts = self.table(keys.ACCOUNTS_TABLE)

        def keep(number: str, row: Row) -> bool:
            if not is_lapsed(row, self._now):
                return True
            user_id = row.text("user_id")
            record = accounts.get(user_id, keys.CALLER_ID_KEY) if user_id else None
            # A record still pending with this attempt is the step before's to clear, record
            # and index row together.
            return (
                record is not None
                and record.text("attempt") == row.text("attempt")
                and record.text("state") == row.text("state")
            )

        where = "state eq 'pending' and started_at le @cutoff"
        self._sweep(kind, where, {"cutoff": self._now - PENDING_LIFETIME}, position, keep)

    def _archives(self, position: str | None) -> None:
        """Pseudonymised books whose kept_until has passed: every row of the pseudonym's
        partition (their payments' owner rows first, the archive row last), then the index row,
        so that a run cut short anywhere finds the books again by their index row."""
        index = kind_named("archive_index")

        def purge(page: ScanPage) -> None:
            for _, row in page.rows:
                self._purge_books(row)

        self._each_page(
            self.table(index.table),
            "PartitionKey eq @pk and kept_until le @now",
            {"pk": keys.ARCHIVES_PARTITION, "now": self._now},
            position,
            purge,
        )

    def _purge_books(self, index_row: Row) -> None:
        """Deletes one pseudonym's books, then its index row; _Spent when the budget ends."""
        pseudonym = index_row.key
        accounts = self.table(keys.ACCOUNTS_TABLE)
        if not _PSEUDONYM.fullmatch(pseudonym):
            self._summary.archives_refused += 1
            return
        archive = accounts.get(pseudonym, keys.ARCHIVE_KEY)
        kept_until = archive.get("kept_until") if archive else None
        if isinstance(kept_until, datetime) and _aware(kept_until) > self._now:
            # The books say "not yet": the index is wrong, and the books win.
            self._summary.archives_refused += 1
            return
        owners = self.table(keys.PAYMENTS_TABLE)
        for payment in accounts.rows(pseudonym, keys.PAYMENT_PREFIX):
            intent = payment.text("payment_intent_id")
            owner = owners.get(intent, keys.PAYMENT_OWNER_KEY) if intent else None
            if owner is not None and owner.text("user_id") == pseudonym:
                self._budget.take(1)
                self._count(keys.PAYMENTS_TABLE, self._remove(owners, intent, [owner]))
        while True:
            rows = accounts.page(pseudonym, "", PAGE_ROWS).rows
            books = [row for row in rows if row.key != keys.ARCHIVE_KEY]
            # The archive row goes once the books are gone: until then it says why they stay.
            batch = books or rows
            if not batch:
                break
            for chunk in _chunks(batch, MAX_TRANSACTION_OPS):
                allowed = self._budget.take(len(chunk))
                done = self._remove(accounts, pseudonym, chunk[:allowed])
                self._count(keys.ACCOUNTS_TABLE, done)
                if len(done) < len(chunk):
                    if allowed < len(chunk):
                        raise _Spent
                    # A row changed since it was read (a late refund landing): this
                    # partition waits for the next run, its index row with it.
                    return
            if not books:
                break
        archives = self.table(keys.ARCHIVES_TABLE)
        self._budget.take(1)
        removed = self._remove(archives, keys.ARCHIVES_PARTITION, [index_row])
        self._count(keys.ARCHIVES_TABLE, removed)

    def _erasures(self, position: str | None) -> None:
        """Deletions cut short: handed to the erasure module's resume (the seam)."""
        del position
        if self.erasures is None:
            return
        for user_id in self.erasures.unfinished(self._now - ERASURE_GRACE):
            if self._out_of_time():
                raise _Paused(None)
            try:
                self.erasures.resume(user_id)
            except Exception as error:  # noqa: BLE001 - one failure must not stop the run
                # Counted, and logged by its type only (a message may name the user); it is
                # found again on the next run.
                logger.warning("Retention: resuming a deletion failed: %s", type(error).__name__)
                self._summary.erasures_failed += 1
            else:
                self._summary.erasures_resumed += 1

    # --- the machinery ----------------------------------------------------------------------

    def _sweep(
        self,
        kind: RecordKind,
        where: str,
        parameters: Mapping[str, Value],
        position: str | None,
        keep: Callable[[str, Row], bool] | None = None,
    ) -> None:
        """Deletes every row of `kind` that `where` finds (and `keep` does not keep), page by
        page from `position`; _Paused with the position to go on from when the budget ends.

        A page is given up whole when the budget ends inside it: the next run reads it again
        from its start and finds only what is left of it (deleted rows are gone)."""
        table = self.table(kind.table)
        if kind.prefix:
            key_prefix: str | None = kind.row_key or None
            condition, params = where, dict(parameters)
        else:
            key_prefix = None
            condition = f"RowKey eq @key and ( {where} )"
            params = {**parameters, "key": kind.row_key}

        def delete(page: ScanPage) -> None:
            by_partition: dict[str, list[Row]] = defaultdict(list)
            for partition, row in page.rows:
                # A longer prefix of another kind (none today) is that kind's, not this one's.
                if kind_of(kind.table, row.key) is not kind:
                    continue
                if keep is not None and keep(partition, row):
                    continue
                by_partition[partition].append(row)
            for partition, rows in by_partition.items():
                for chunk in _chunks(rows, MAX_TRANSACTION_OPS):
                    allowed = self._budget.take(len(chunk))
                    removed = self._remove(table, partition, chunk[:allowed])
                    self._summary.deleted[kind.name] += len(removed)
                    if allowed < len(chunk):
                        raise _Spent

        self._each_page(table, condition, params, position, delete, key_prefix)

    def _each_page(
        self,
        table: Table,
        condition: str,
        params: Mapping[str, Value],
        position: str | None,
        handle: Callable[[ScanPage], None],
        key_prefix: str | None = None,
    ) -> None:
        """Hands each page the query finds, from `position`, to `handle`. A handler that runs
        out of budget (_Spent) pauses at its page's start, which the next run reads again and
        finds only what is left of; out of time between pages pauses at the next page."""
        while True:
            page = table.scan(
                condition, params, key_prefix=key_prefix, limit=PAGE_ROWS, continuation=position
            )
            try:
                handle(page)
            except _Spent:
                raise _Paused(position) from None
            if not page.continuation:
                return
            if self._out_of_time():
                raise _Paused(page.continuation)
            position = page.continuation

    def _remove(self, table: Table, partition: str, rows: list[Row]) -> list[Row]:
        """Deletes these rows of one partition, each on the ETag it was read with, in one
        transaction; the rows it deleted. A row changed or gone since undoes the transaction:
        then one by one, and the changed or gone ones are left (not ours to delete now)."""
        if not rows:
            return []
        self._budget.spend(len(rows))
        try:
            table.commit(partition, [Remove(row.key, etag=row.etag or None) for row in rows])
            return rows
        except RowChanged:
            pass
        done = []
        for row in rows:
            try:
                table.commit(partition, [Remove(row.key, etag=row.etag or None)])
            except RowChanged:
                continue
            done.append(row)
        return done

    def _count(self, table: str, rows: Iterable[Row]) -> None:
        """Counts deleted rows by their kind, from the table's registry name."""
        for row in rows:
            kind = kind_of(table, row.key)
            self._summary.deleted[kind.name if kind else "undeclared"] += 1

    def _out_of_time(self) -> bool:
        return self.monotonic() >= self._budget.ends_at or self._budget.rows <= 0


def _chunks(rows: list[Row], size: int) -> Iterator[list[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


STEPS: tuple[Step, ...] = (
    Step("calls", ("call",), Retention._calls),
    Step("call_history", ("call_history",), Retention._call_history),
    Step("sessions", ("session",), Retention._sessions),
    Step("auth_flows", ("auth_flow",), Retention._auth_flows),
    Step("checkouts", ("checkout",), Retention._checkouts),
    Step("caller_ids", ("caller_id",), Retention._caller_ids),
    Step("caller_id_owners", ("caller_id_owner",), Retention._caller_id_owners),
    Step("limit_counters", ("limit_counter",), Retention._limit_counters),
    Step(
        "archives",
        (
            "archive",
            "archive_index",
            "balance",
            "ledger_entry",
            "journal_row",
            "payment",
            "payment_owner",
        ),
        Retention._archives,
    ),
    Step("erasures", ("erasure",), Retention._erasures),
)
