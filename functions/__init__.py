"""Thin HTTP and timer adapters: parse, authorise, call shared/, respond.

The worker imports every adapter at a cold start, before the first request; so each adapter
imports at its top only what its decorators and its every call need (the edge, route names,
light errors), and imports the shared modules that do the work inside its handler, where the
first request that needs them pays for them once. `scripts/bench` prints what a cold start
costs against a bare `import azure.functions`.
"""
