"""The public API's contract: the OpenAPI 3.1 document served at /api/openapi.json.

schemas.py holds the JSON Schemas of the bodies and the shared responses (the problem shape
functions/_edge.py sends), operations.py one entry per operation (what it takes, what it
answers), document.py puts them together. Pure data: no SDK, no I/O.
"""
