"""Azure Functions route templates ('calls/{id}', '{id:int?}', '{*rest}') as matchers, and
the table of routes every part of the local host dispatches with (404 and 405 included)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from local_host.http_types import LocalRequest, LocalResponse, problem_response

T = TypeVar("T")
# What RouteTable.dispatch calls: the request, then the path's parameters by name.
RouteHandler = Callable[..., LocalResponse]

_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}")
_CONSTRAINTS = {"int": r"-?[0-9]+", "alpha": r"[A-Za-z]+", "guid": r"[0-9a-fA-F-]{36}"}


@dataclass(frozen=True)
class RouteTemplate:
    template: str
    pattern: re.Pattern[str]

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        regex = ""
        position = 0
        for match in _PARAM.finditer(template):
            regex += re.escape(template[position : match.start()])
            catch_all, name, constraint, optional = match.groups()
            body = ".*" if catch_all else _CONSTRAINTS.get(constraint or "", r"[^/]+")
            group = f"(?P<{name}>{body})"
            if optional or catch_all:
                # An optional last segment takes its slash with it: 'items/{id?}' matches 'items'.
                if regex.endswith("/"):
                    regex = regex[:-1] + f"(?:/{group})?"
                else:
                    regex += f"{group}?"
            else:
                regex += group
            position = match.end()
        regex += re.escape(template[position:])
        return cls(template, re.compile(regex, re.IGNORECASE))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path.strip("/"))
        if found is None:
            return None
        return {name: value for name, value in found.groupdict().items() if value is not None}


@dataclass(frozen=True)
class Route(Generic[T]):
    """A template, the methods it answers (empty: any) and what handles it."""

    methods: frozenset[str]
    template: RouteTemplate
    target: T

    @classmethod
    def of(cls, methods: str, template: str, target: T) -> Route[T]:
        """Route.of("GET POST", "calls/{sid}", handler); "*" for any method."""
        names = frozenset(m for m in methods.upper().split() if m != "*")
        return cls(names, RouteTemplate.parse(template), target)


@dataclass(frozen=True)
class RouteTable(Generic[T]):
    routes: tuple[Route[T], ...]
    what: str  # "endpoint", "sandbox endpoint": words for the 404 sentence

    def resolve(self, request: LocalRequest, path: str) -> tuple[T, dict[str, str]] | LocalResponse:
        """The target and its parameters, or the 404/405 problem to answer instead."""
        allowed: set[str] = set()
        for route in self.routes:
            params = route.template.match(path)
            if params is None:
                continue
            if route.methods and request.method not in route.methods:
                allowed |= route.methods
                continue
            return route.target, params
        if allowed:
            methods = ", ".join(sorted(allowed))
            return problem_response(
                405,
                "Method not allowed",
                f"{request.method} is not allowed here; use {methods}.",
                Allow=methods,
            )
        return problem_response(404, "Not found", f"There is no {self.what} at {request.path}.")

    def dispatch(self, request: LocalRequest, path: str) -> LocalResponse:
        """For tables of handlers: call the one the path names with its parameters."""
        found = self.resolve(request, path)
        if isinstance(found, LocalResponse):
            return found
        handler, params = found
        return cast(RouteHandler, handler)(request, **params)
