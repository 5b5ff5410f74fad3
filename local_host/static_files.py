"""Serves static_site/ as Azure Static Web Apps would, headers from staticwebapp.config.json."""

from __future__ import annotations

import fnmatch
import json
import mimetypes
from dataclasses import dataclass
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
            return problem_response(405, "Method not allowed", "Static files are read-only.")
        path = request.path
        route = self._route(path)
        if route and "rewrite" in route:
            path = route["rewrite"]
        target = self._file(path)
        if target is None and self._falls_back(path):
            target = self._file(self.config["navigationFallback"]["rewrite"])
        if target is None:
            not_found = self._file("/404.html")
            body = not_found.read_bytes() if not_found else b"Not found"
            return LocalResponse(404, body, [("Content-Type", "text/html; charset=utf-8")])
        body = target.read_bytes()
        headers = [("Content-Type", self._mime(target))]
        headers += list(self.config.get("globalHeaders", {}).items())
        if route:
            headers += list(route.get("headers", {}).items())
        return LocalResponse(200, b"" if request.method == "HEAD" else body, headers)

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

    def _route(self, path: str) -> dict[str, Any] | None:
        for route in self.config.get("routes", []):
            if fnmatch.fnmatchcase(path, route.get("route", "")):
                return route
        return None

    def _falls_back(self, path: str) -> bool:
        fallback = self.config.get("navigationFallback")
        if not fallback:
            return False
        excluded = fallback.get("exclude", [])
        return not any(fnmatch.fnmatchcase(path, pattern) for pattern in excluded)

    def _mime(self, target: Path) -> str:
        custom = self.config.get("mimeTypes", {}).get(target.suffix)
        guessed = custom or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if guessed.startswith("text/") or guessed in ("application/javascript", "application/json"):
            return f"{guessed}; charset=utf-8"
        return guessed
