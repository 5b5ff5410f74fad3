"""Serves static_site/ as Azure Static Web Apps would, headers from staticwebapp.config.json."""

from __future__ import annotations

import fnmatch
import json
import mimetypes
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from local_host.http_types import LocalRequest, LocalResponse, problem_response


@dataclass(frozen=True)
class StaticSite:
    root: Path
    config: dict[str, Any]

    @classmethod
    def load(cls, root: Path) -> StaticSite:
        config_file = root / "staticwebapp.config.json"
        config = json.loads(config_file.read_text()) if config_file.exists() else {}
        return cls(root.resolve(), config)

    def serve(self, request: LocalRequest) -> LocalResponse:
        if request.method not in ("GET", "HEAD"):
            refused = problem_response(405, "Method not allowed", "Static files are read-only.")
            # Static Web Apps sends its global headers on every answer, refusals too.
            refused.headers += self._global_headers()
            return refused
        path = request.path
        route = self._route(path)
        if route and "statusCode" in route:
            # A route that answers with a status and no file (Static Web Apps' way to close a
            # path, such as the built-in /.auth providers this app does not use).
            return self._not_found(int(route["statusCode"]))
        if route and "rewrite" in route:
            path = route["rewrite"]
        target = self._file(path)
        if target is None and self._falls_back(path):
            target = self._file(self.config["navigationFallback"]["rewrite"])
        if target is None:
            return self._not_found(404)
        body = target.read_bytes()
        headers = [("Content-Type", self._mime(target)), *self._global_headers()]
        if route:
            headers += list(route.get("headers", {}).items())
        # The same for a HEAD: the server sends its length and leaves the body out.
        return LocalResponse(200, body, headers)

    def _not_found(self, status: int) -> LocalResponse:
        not_found = self._file("/404.html")
        body = not_found.read_bytes() if not_found else b"Not found"
        # Static Web Apps sends its global headers (the CSP among them) on errors too.
        headers = [("Content-Type", "text/html; charset=utf-8"), *self._global_headers()]
        return LocalResponse(status, body, headers)

    def _file(self, url_path: str) -> Path | None:
        relative = url_path.lstrip("/")
        candidate = (self.root / relative).resolve()
        if candidate.is_dir():
            candidate = candidate / "index.html"
        # Never serve outside the site root, however the path was spelt.
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        if candidate.name == "staticwebapp.config.json":
            return None
        return candidate

    def _global_headers(self) -> list[tuple[str, str]]:
        return list(self.config.get("globalHeaders", {}).items())

    def _route(self, path: str) -> dict[str, Any] | None:
        for route in self.config.get("routes", []):
            if matches(path, route.get("route", "")):
                found: dict[str, Any] = route
                return found
        return None

    def _falls_back(self, path: str) -> bool:
        fallback = self.config.get("navigationFallback")
        if not fallback:
            return False
        excluded = fallback.get("exclude", [])
        return not any(matches(path, pattern) for pattern in excluded)

    def _mime(self, target: Path) -> str:
        custom = self.config.get("mimeTypes", {}).get(target.suffix)
        guessed = custom or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if guessed.startswith("text/") or guessed in ("application/javascript", "application/json"):
            return f"{guessed}; charset=utf-8"
        return guessed


def matches(path: str, pattern: str) -> bool:
    """Static Web Apps' wildcard syntax: `*` matches any characters, `/` included, and
    `{png,jpg}` any one of its comma-separated choices (which fnmatch alone does not know)."""
    return any(fnmatch.fnmatchcase(path, one) for one in expand_braces(pattern))


_INNERMOST_BRACES = re.compile(r"\{([^{}]*)\}")


@lru_cache(maxsize=256)
def expand_braces(pattern: str) -> tuple[str, ...]:
    """`/*.{css,js}` -> (`/*.css`, `/*.js`); nested and repeated braces multiply out. A brace
    without a comma, or an unbalanced one, is literal, as in the shells' brace expansion."""
    found = next((m for m in _INNERMOST_BRACES.finditer(pattern) if "," in m.group(1)), None)
    if found is None:
        return (pattern,)
    head, tail = pattern[: found.start()], pattern[found.end() :]
    expanded: list[str] = []
    for choice in found.group(1).split(","):
        for one in expand_braces(head + choice + tail):
            if one not in expanded:
                expanded.append(one)
    return tuple(expanded)
