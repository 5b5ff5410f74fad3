"""The account's statement: each ledger entry with what the page needs to say it in words.

Owns reading a page of the ledger together with the records it speaks of, in the user's own
partition: the call a charge was for (its number, while the call row still exists: the ledger
itself keeps no dialled number) and the card a payment, refund or dispute was made with.
Reads only; it joins what calling, credit and money keep, so it sits above them.

May import: shared.calling, shared.credit, shared.money, shared.storage (rows; Table as a
type). No SDK.
"""
