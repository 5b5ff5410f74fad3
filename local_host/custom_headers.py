"""host.json's `extensions.http.customHeaders`, applied to the functions' responses as the
Functions host applies them.

In Azure the host's CustomHttpHeadersMiddleware (azure-functions-host,
src/WebJobs.Script.WebHost/Middleware/CustomHttpHeadersMiddleware.cs) runs in the job host's
pipeline, ahead of function invocation and of the route table, and adds each header with
`Response.Headers.TryAdd` when the response starts: every response of that pipeline gets
them, the route table's own 404s included, and a header the function set itself is kept
(never replaced, never sent twice). This module does the same for the local host, reading
the same file, so that the headers have one definition: host.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local_host.http_types import LocalResponse


class CustomHeadersError(ValueError):
    """host.json's customHeaders is not an object of header names to text values."""


@dataclass(frozen=True)
class CustomHeaders:
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_host_config(cls, config: Mapping[str, Any]) -> CustomHeaders:
        """The customHeaders of a parsed host.json ({} when it has none)."""
        found = config.get("extensions", {}).get("http", {}).get("customHeaders", {})
        if not isinstance(found, dict) or not all(
            isinstance(name, str) and name and isinstance(value, str)
            for name, value in found.items()
        ):
            raise CustomHeadersError(
                "host.json's extensions.http.customHeaders must be an object of header names"
                " to text values."
            )
        return cls(tuple(found.items()))

    def apply(self, response: LocalResponse) -> LocalResponse:
        """The response with each custom header it lacks (names compared case-insensitively,
        as HTTP's are): what the function set wins."""
        present = {name.lower() for name, _ in response.headers}
        missing = [(name, value) for name, value in self.headers if name.lower() not in present]
        return LocalResponse(response.status, response.body, [*response.headers, *missing])
