"""The one way the sandbox reads a JSON request body.

Through shared.json_body, as the API reads its own: odd input (not JSON, nested past the
parser's recursion limit, lone surrogates) is InvalidInput with a sentence, which each
sandbox answers as a 400 in its provider's error format, never a 500.
"""

from __future__ import annotations

from typing import Any

from shared.errors import InvalidInput
from shared.json_body import parse_json


def json_object(body: bytes, *, empty: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body's JSON object; `empty` (when given) stands for an empty body."""
    if not body and empty is not None:
        return dict(empty)
    data = parse_json(body)
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object.")
    return data
