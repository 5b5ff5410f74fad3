"""Azure Table Storage, wrapped: rows, conditional writes and entity-group transactions.

Everything above this module speaks in rows (a key and plain data) and a handful of
operations; azure-data-tables' types and exceptions stay in here. Storage faults become
`StorageUnavailable`, so the edge can answer 503 with Retry-After and callers (Twilio,
Stripe) retry. Every round trip waits at most for the transport's time-outs and for what is
left of the request's deadline (shared.deadline): a stalled store cannot hang a webhook.

It is long because it is the only module that speaks the SDK: every operation's translation
to and from azure-data-tables, and every SDK error's, is here and nowhere else.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import requests
from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import RetryPolicy, SansIOHTTPPolicy
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import (
    EdmType,
    EntityProperty,
    TableClient,
    TableServiceClient,
    TableTransactionError,
    UpdateMode,
)
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies

from shared import deadline
from shared.storage import round_trips
from shared.storage.errors import (
    BadContinuation,
    RowChanged,
    RowExists,
    StorageUnavailable,
    TableMissing,
)
from shared.storage.rows import (
    MAX_TRANSACTION_OPS,
    Insert,
    Op,
    Page,
    Remove,
    Replace,
    Row,
    ScanPage,
    Touch,
    Value,
)

logger = logging.getLogger("ownnumber.storage")

T = TypeVar("T")
WriteCheck = Callable[[str, Op], None]

# Per round trip. Inside a region a storage answer takes milliseconds; these only bound how
# long a dead or stalled store can hold a request (the request's deadline bounds the sum).
CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0
# Threads that send the point reads of get_many, shared by every request of the process:
# started once, not per read (starting a thread costs more than a loopback round trip), and
# enough for 16 requests reading three rows each at once. The pool of connections
# (pool_maxsize below) has room for them and for each request thread's own.
READER_THREADS = 32
# Continuation tokens we hand out are a few hundred characters; anything far longer is not
# ours, and Table Storage would refuse the header (431) rather than answer.
MAX_CONTINUATION_CHARS = 2048


@dataclass
class Table:
    """One table. Rows are addressed by (partition, key)."""

    client: TableClient
    name: str
    # Called with (table, op) before every write: the privacy registry's guard, from bootstrap.
    write_check: WriteCheck | None = None
    # Sends the point reads of get_many (TableStore's, shared by its tables).
    readers: ThreadPoolExecutor | None = field(default=None, repr=False)
    _ready: bool = field(default=False, repr=False)

    def _call(self, action: Callable[[], T]) -> T:
        """`_call` for this table: a table found missing is created again (TableMissing)."""
        try:
            return _call(action)
        except TableMissing:
            logger.error("Table %s was missing: created again", self.name)
            with contextlib.suppress(ResourceExistsError):
                _call(self.client.create_table)
            raise

    def get(self, partition: str, key: str) -> Row | None:
        try:
            entity = self._call(lambda: self.client.get_entity(partition, key))
        except ResourceNotFoundError:
            return None
        return _row(entity)

    def get_many(self, partition: str, keys: Iterable[str]) -> dict[str, Row]:
        """The rows of one partition that exist under these keys, by key: one point read per
        key (the cheapest read Table Storage has), all sent at once, so one round trip.

        Not one query: Table Storage answers a filter of RowKeys joined by `or` with a scan
        of the whole partition. Each read runs in a copy of the caller's context, so the
        request's deadline bounds it as it bounds every other round trip.
        """
        wanted = list(dict.fromkeys(keys))
        if len(wanted) <= 1:
            found = [self.get(partition, key) for key in wanted]
        else:
            with ExitStack() as own:
                # A table built without TableStore's readers (a test's) makes its own.
                readers = self.readers or own.enter_context(ThreadPoolExecutor(len(wanted) - 1))
                round_trips.start_round()
                others = [
                    readers.submit(
                        contextvars.copy_context().run,
                        round_trips.in_round,
                        self.get,
                        partition,
                        key,
                    )
                    for key in wanted[1:]
                ]
                # The first on this thread, which would otherwise only wait for the others.
                first = contextvars.copy_context().run(
                    round_trips.in_round, self.get, partition, wanted[0]
                )
                found = [first, *(other.result() for other in others)]
        return {row.key: row for row in found if row is not None}

    def commit(self, partition: str, ops: Sequence[Op]) -> None:
        """Apply all ops atomically (one entity-group transaction) or none of them."""
        if not ops:
            return
        if self.write_check is not None:
            for op in ops:
                self.write_check(self.name, op)
        if len(ops) > MAX_TRANSACTION_OPS:
            raise ValueError(f"a transaction holds at most {MAX_TRANSACTION_OPS} operations")
        # A conditional delete goes as a transaction even alone: delete_entity swallows the
        # 404 of a row that is gone, and a row deleted since it was read has changed (two
        # callers removing one row, each with the ETag it read: exactly one may succeed).
        if len(ops) == 1 and not (isinstance(ops[0], Remove) and ops[0].etag is not None):
            self._single(partition, ops[0])
            return
        try:
            self._call(
                lambda: self.client.submit_transaction([_batch_op(partition, op) for op in ops])
            )
        except TableTransactionError as err:
            failed = ops[err.index] if 0 <= err.index < len(ops) else ops[0]
            code = str(getattr(err, "error_code", None) or "")
            if code == "EntityAlreadyExists":
                raise RowExists(failed.key) from None
            if code in ("UpdateConditionNotSatisfied", "ResourceNotFound"):
                raise RowChanged(failed.key) from None
            raise StorageUnavailable(f"transaction failed: {code}") from err

    def _single(self, partition: str, op: Op) -> None:
        entity = {"PartitionKey": partition, "RowKey": op.key}
        try:
            if isinstance(op, Insert):
                self._call(lambda: self.client.create_entity({**entity, **_encode(op.data)}))
            elif isinstance(op, Replace) and op.etag is None:
                self._call(
                    lambda: self.client.upsert_entity(
                        {**entity, **_encode(op.data)}, mode=UpdateMode.REPLACE
                    )
                )
            elif isinstance(op, Replace):
                self._call(
                    lambda: self.client.update_entity(
                        {**entity, **_encode(op.data)},
                        mode=UpdateMode.REPLACE,
                        etag=op.etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
                )
            elif isinstance(op, Touch):
                self._call(
                    lambda: self.client.update_entity(
                        {**entity, **_encode(op.data)},
                        mode=UpdateMode.MERGE,
                        match_condition=MatchConditions.Unconditionally,
                    )
                )
            else:
                # Unconditional only: a conditional delete is a transaction (see commit).
                self._call(lambda: self.client.delete_entity(partition, op.key))
        except ResourceExistsError:
            raise RowExists(op.key) from None
        except (ResourceModifiedError, ResourceNotFoundError):
            raise RowChanged(op.key) from None

    def page(
        self, partition: str, prefix: str, limit: int, continuation: str | None = None
    ) -> Page:
        """Rows of one partition whose key starts with prefix, in key order, one page."""
        token = _partition_token(continuation, partition) if continuation else None
        pages = self.client.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={"pk": partition, "lo": prefix, "hi": _prefix_end(prefix)},
            results_per_page=limit,
        ).by_page(continuation_token=token)

        def first_page() -> Page:
            rows = [_row(entity) for entity in next(pages, [])]
            # The pager sets continuation_token as it goes; its type hints do not declare it.
            next_token = pages.continuation_token  # type: ignore[attr-defined]
            bound = {_TOKEN_PARTITION: partition, _TOKEN_NEXT: next_token}
            return Page(rows, _encode_token(bound) if next_token else None)

        return self._call(first_page)

    def scan(
        self,
        where: str,
        parameters: Mapping[str, Value],
        *,
        key_prefix: str | None = None,
        limit: int = 1000,
        continuation: str | None = None,
    ) -> ScanPage:
        """One page of the rows of every partition that match `where` (an OData filter over
        the rows' properties, its values given as @name parameters, each between spaces), and
        only those whose key
        starts with key_prefix: the server filters, so only the matching rows travel.

        Across partitions, so for sweeps (the retention run), never for a request: the
        service reads its way through the table, and may answer a page with no rows but a
        continuation when it has not yet found any (fetch the next).
        """
        # Spaces around the brackets: the SDK finds each @name between spaces ("@x)" fails).
        conditions = [f"( {where} )"] if where else []
        params: dict[str, Any] = dict(parameters)
        if key_prefix is not None:
            conditions.insert(0, "RowKey ge @_lo and RowKey lt @_hi")
            params.update({"_lo": key_prefix, "_hi": _prefix_end(key_prefix)})
        token = _decode_token(continuation) if continuation else None
        pages = self.client.query_entities(
            " and ".join(conditions) or "PartitionKey ge ''",
            parameters=params,
            results_per_page=limit,
        ).by_page(continuation_token=token)

        def first_page() -> ScanPage:
            found = [(str(entity["PartitionKey"]), _row(entity)) for entity in next(pages, [])]
            next_token = pages.continuation_token  # type: ignore[attr-defined]
            return ScanPage(found, _encode_token(next_token) if next_token else None)

        return self._call(first_page)

    def rows(self, partition: str, prefix: str = "") -> Iterator[Row]:
        """Every row of a partition (with the prefix), page by page."""
        continuation: str | None = None
        while True:
            page = self.page(partition, prefix, 1000, continuation)
            yield from page.rows
            continuation = page.continuation
            if not continuation:
                return

    def rows_until(self, partition: str, time_field: str, cutoff: datetime) -> Iterator[Row]:
        """Rows of one partition whose time `time_field` is at or before cutoff, page by page."""
        if not time_field.isidentifier():
            raise ValueError(f"{time_field!r} is not a property name")
        entities = self.client.query_entities(
            f"PartitionKey eq @pk and {time_field} le @cutoff",
            parameters={"pk": partition, "cutoff": cutoff},
        )
        iterator = iter(entities)
        while True:
            entity = self._call(lambda: next(iterator, None))
            if entity is None:
                return
            yield _row(entity)


class TableStore:
    """The storage account: hands out tables, creating each once per process."""

    def __init__(self, connection_string: str, write_check: WriteCheck | None = None) -> None:
        # Few, quick retries: a webhook caller retries on our 503 anyway, and a health check
        # must answer while storage is down rather than hang in back-off.
        http = requests.Session()
        # Not from the environment on every round trip: requests would otherwise scan all of
        # it for proxy variables, and look for ~/.netrc, before each one (a third of this
        # module's CPU time in a webhook). The proxies are read once, below.
        http.trust_env = False
        # One pooled connection per concurrent request thread, so none is thrown away.
        http.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=64))
        http.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=64))
        # The time-outs go on the transport: given to the client, they never reach a
        # transport built here, which then waits 300 s on a store that does not answer.
        transport = RequestsTransport(
            session=http,
            session_owner=True,
            connection_timeout=CONNECT_TIMEOUT_SECONDS,
            read_timeout=READ_TIMEOUT_SECONDS,
        )
        self._service = TableServiceClient.from_connection_string(
            connection_string,
            transport=transport,
            retry_total=2,
            retry_backoff_factor=0.2,
            raw_request_hook=_within_deadline,
        )
        # Every table client is built from the service's policy list (get_table_client), which
        # the SDK takes no extra policies for: the counter goes in after its retry policy, so
        # that each attempt counts as the round trip it is.
        policies = self._service._policies
        after_retry = next(
            (i + 1 for i, policy in enumerate(policies) if isinstance(policy, RetryPolicy)),
            len(policies),
        )
        policies.insert(after_retry, CountingPolicy())
        # The proxy variables (HTTPS_PROXY, NO_PROXY…) as they apply to this account's endpoint.
        http.proxies = get_environ_proxies(self._service.url)
        self._write_check = write_check
        self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="table-read")
        self._tables: dict[str, Table] = {}
        self._lock = threading.Lock()

    def table(self, name: str) -> Table:
        with self._lock:
            table = self._tables.get(name)
            if table is None:
                _call(lambda: self._service.create_table_if_not_exists(name))
                table = Table(
                    self._service.get_table_client(name), name, self._write_check, self._readers
                )
                self._tables[name] = table
            return table

    def ping(self) -> None:
        """Raises StorageUnavailable unless the table service answers."""
        _call(lambda: next(iter(self._service.list_tables(results_per_page=1)), None))


class CountingPolicy(SansIOHTTPPolicy[Any, Any]):
    """Counts each request the pipeline sends (after its retry policy: every attempt is one)
    for the incoming request being served (shared.storage.round_trips)."""

    def on_request(self, request: PipelineRequest[Any]) -> None:
        round_trips.count_request()


def _within_deadline(request: PipelineRequest[Any]) -> None:
    """Runs before every attempt (retries included): waits no longer than the request has."""
    left = deadline.remaining()
    if left is None:
        return
    if left <= 0:
        # Not an AzureError, so the retry policy lets it through at once.
        raise deadline.DeadlinePassed("The request ran out of time waiting for Table Storage.")
    options = request.context.options
    options["connection_timeout"] = min(CONNECT_TIMEOUT_SECONDS, left)
    options["read_timeout"] = min(READ_TIMEOUT_SECONDS, left)


def _call(action: Callable[[], T]) -> T:
    try:
        deadline.check()
        return action()
    except deadline.DeadlinePassed as err:
        raise StorageUnavailable(
            "Table Storage did not answer within the request's deadline"
        ) from err
    except ResourceNotFoundError as err:
        if _table_not_found(err):
            raise TableMissing("the table does not exist") from err
        raise
    except (ResourceExistsError, ResourceModifiedError):
        raise
    except TableTransactionError as err:
        if _table_not_found(err):
            raise TableMissing("the table does not exist") from err
        raise
    except HttpResponseError as err:
        status = err.status_code or 0
        if 400 <= status < 500 and status != 408:
            # Not a passing fault: a wrong account key (403), an endpoint that is not Table
            # Storage, or a request we should never have made. Still a 503 for the caller, who
            # can do nothing else, and an error in the log for whoever can fix it.
            logger.error("Table Storage refused a request: HTTP %s %s", status, err.reason)
        raise StorageUnavailable(f"Table Storage answered {status}") from err
    except AzureError as err:
        raise StorageUnavailable(f"Table Storage is unreachable: {type(err).__name__}") from err


def _table_not_found(err: HttpResponseError) -> bool:
    # The SDK gives the code as a TableErrorCode, a plain string, or (on some writes) only in
    # the body it quotes in the message.
    code = getattr(err, "error_code", None)
    return str(getattr(code, "value", code) or "") == "TableNotFound" or (
        code is None and '"code":"TableNotFound"' in str(err)
    )


def _row(entity: Mapping[str, Any]) -> Row:
    data = {
        name: value.value if isinstance(value, EntityProperty) else value
        for name, value in entity.items()
        if name not in ("PartitionKey", "RowKey")
    }
    metadata = getattr(entity, "metadata", {}) or {}
    return Row(str(entity["RowKey"]), data, str(metadata.get("etag", "")))


def _encode(data: Mapping[str, Value]) -> dict[str, Any]:
    encoded: dict[str, Any] = {}
    for name, value in data.items():
        if value is None:
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            encoded[name] = EntityProperty(value, EdmType.INT64)
        else:
            encoded[name] = value
    return encoded


def _batch_op(partition: str, op: Op) -> tuple[Any, ...]:
    entity = {"PartitionKey": partition, "RowKey": op.key}
    if isinstance(op, Insert):
        return ("create", {**entity, **_encode(op.data)})
    if isinstance(op, Touch):
        return (
            "update",
            {**entity, **_encode(op.data)},
            {"mode": UpdateMode.MERGE, "match_condition": MatchConditions.Unconditionally},
        )
    if isinstance(op, Replace):
        if op.etag is None:
            return ("upsert", {**entity, **_encode(op.data)}, {"mode": UpdateMode.REPLACE})
        return (
            "update",
            {**entity, **_encode(op.data)},
            {
                "mode": UpdateMode.REPLACE,
                "etag": op.etag,
                "match_condition": MatchConditions.IfNotModified,
            },
        )
    if op.etag is None:
        return ("delete", entity)
    return (
        "delete",
        entity,
        {"etag": op.etag, "match_condition": MatchConditions.IfNotModified},
    )


def _prefix_end(prefix: str) -> str:
    """The smallest key greater than every key that starts with prefix."""
    if not prefix:
        return "\uffff"
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _encode_token(token: Any) -> str:
    raw = json.dumps(token, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# A page's continuation names the partition it continues (the service's own token holds it
# only in a form of the service's choosing), so that it continues nothing else: another
# user's token would restart this user's list somewhere arbitrary.
_TOKEN_PARTITION = "p"
_TOKEN_NEXT = "n"


def _partition_token(text: str, partition: str) -> Any:
    token = _decode_token(text)
    if token.get(_TOKEN_PARTITION) != partition or not isinstance(token.get(_TOKEN_NEXT), dict):
        raise BadContinuation("The continuation token is not one this API gave out.")
    return token[_TOKEN_NEXT]


def _decode_token(text: str) -> Any:
    if len(text) > MAX_CONTINUATION_CHARS:
        raise BadContinuation("The continuation token is not one this API gave out.")
    try:
        padded = text + "=" * (-len(text) % 4)
        token = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise BadContinuation("The continuation token is not one this API gave out.") from None
    if not isinstance(token, dict):
        raise BadContinuation("The continuation token is not one this API gave out.")
    return token
