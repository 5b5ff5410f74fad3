"""Credit: buying it with Stripe Checkout, and taking it back exactly when money goes back.

Pure: stripe_events (what a signed event says, checked), checkout_requests (what we ask
Stripe for), payment_records (what we keep of a payment), outcome, errors.
In storage: payments (the service the adapters call: checkouts, and each event to its
family), purchases, refunds and disputes (one module per family of events), payment_book
(what the families share: finding the purchase, writing its rows in the ledger's
transaction, taking credit back in exact proportion).
The port to Stripe is provider; its adapter, stripe_gateway, is the only module that
imports the Stripe SDK (inside its methods).

May import: shared.money, shared.storage (rows and errors; Table as a type), shared.config,
shared.errors, shared.json_body, and stripe (stripe_gateway only).
"""
