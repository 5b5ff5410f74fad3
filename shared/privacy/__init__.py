"""Privacy as code: what OwnNumber stores about people, why, for how long, and what export,
correction, deletion and the retention timer do with it.

The registry (registry.py) declares every kind of stored record, every cookie and every
processor; everything else here is driven by it: the guard that refuses undeclared writes
(guard.py), the Art. 30 record of processing (records.py), the export, the erasure and the
retention run. It sits above the capability packages it reads and erases (identity, calling,
credit, callerid, statement) and below bootstrap, which wires it.
"""
