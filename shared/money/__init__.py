"""Money, exact: integer micros of the deployment currency, and the ledger.

Owns amounts (micros: parsing, formatting, minor units, proportional shares) and the ledger
(ledger: an entry, its journal row and the balance in one transaction per change, keyed by
the event that caused it, so that a redelivery changes nothing).

May import: shared.storage (rows and errors; Table as a type), shared.deadline. No SDK.
"""
