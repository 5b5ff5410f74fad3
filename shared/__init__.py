"""OwnNumber's domain and its adapters, one package per capability, in layers.

Each package's docstring says what it owns and what it may import; import-linter checks the
layers (pyproject.toml), top to bottom:

- bootstrap: builds every service from the settings, on first use (the only wiring).
- telephony | credit: Twilio's adapters; buying credit with Stripe and taking it back.
- calling | identity: rating, placing, following and settling calls; users and sessions.
- config: the settings, read once into typed objects.
- money: exact micros and the ledger.
- storage: Table Storage, its rows, and the key layout of every record.
- json_body | deadline, then errors: what every layer may use.

The top-level modules serve every capability: config.py (settings), bootstrap.py (wiring),
errors.py (the errors every endpoint can raise), deadline.py (the request's time budget)
and json_body.py (request bodies as JSON). Nothing here imports azure.functions: the HTTP and
timer adapters are functions/.
"""
