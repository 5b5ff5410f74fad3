"""The local host's own request and response: plain data shared by its parts."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class LocalRequest:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str  # scheme://host:port as the client reached us

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.query_string, keep_blank_values=True))

    @property
    def url(self) -> str:
        suffix = f"?{self.query_string}" if self.query_string else ""
        return f"{self.base_url}{self.path}{suffix}"


@dataclass
class LocalResponse:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


Handler = Callable[[LocalRequest], LocalResponse]


@dataclass(frozen=True)
class Mount:
    """Requests whose path starts with prefix go to handler (the sandboxes use this)."""

    prefix: str
    handler: Handler


def json_response(
    status: int,
    data: Any,
    *headers: tuple[str, str],
    content_type: str = "application/json",
) -> LocalResponse:
    """A JSON answer of the sandboxes (compact, as the providers' own APIs answer)."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return LocalResponse(status, body, [("Content-Type", content_type), *headers])


def problem_response(status: int, title: str, detail: str, **headers: str) -> LocalResponse:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    return LocalResponse(
        status,
        body.encode(),
        [("Content-Type", "application/problem+json"), *headers.items()],
    )
