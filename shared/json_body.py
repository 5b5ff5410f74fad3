"""Request bodies as JSON, refused with a sentence whatever bytes arrive.

Every JSON body enters through here (the API's own and Stripe's signed events), so that odd
input (not UTF-8, nested past the parser's recursion limit, text with lone surrogates that
no store or log can encode) is a 400 at the door, not a 500 deep inside.
"""

from __future__ import annotations

import json
from typing import Any

from shared.errors import InvalidInput


def parse_json(raw: bytes) -> Any:
    try:
        data = json.loads(raw)
    except RecursionError:
        raise InvalidInput("The request body is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("The request body is not valid JSON.") from None
    try:
        # "\ud800" is valid JSON but no valid text: it could not be stored or logged.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("The request body contains text that is not valid Unicode.") from None
    except RecursionError:
        raise InvalidInput("The request body is nested too deeply.") from None
    return data
