"""Calls: what may be called and at what price, and each call from placing to settling.

Pure decisions, no I/O: rating (the rate deck, longest-prefix prices), destination_policy
(which numbers may be called, from what people type or paste), pricing (the two together,
and how long a balance pays for), countries (the countries they allow), number_formats (a
number as people write it), lifecycle (what Twilio's reports mean, in what order, and what a
call costs).
In storage: placing (the hold and the call row, in one transaction), reports (following
Twilio's reports), settling (the debit, the final call and the released hold, in one ledger
post), history (reading calls back), open_calls (the index reconciliation reads), calls (the
facade the adapters use), reconciliation (settling lost calls from Twilio's records, through
the calls_api port that shared.telephony implements).

May import: shared.money, shared.storage (rows and errors; Table as a type), shared.config,
shared.errors, phonenumbers (destination_policy, countries and number_formats, on first
use). Never an SDK, never shared.telephony: the adapters depend on the domain, not the other
way round.
"""
