"""Azure Table Storage: where every record lives and how it is written.

Owns the table store (table_store, the one module that imports azure-data-tables and
requests), rows and operations as plain data (rows), storage's errors (errors), and the key
layout of every kind of record (keys). Everything above speaks in rows and errors and never
sees the SDK; a domain module names Table only as a type.

May import: shared.deadline (every round trip waits no longer than the request may), the
azure SDK and requests (table_store only).
"""
