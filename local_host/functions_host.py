"""Runs the app's functions the way the Functions host does: HTTP triggers and timers."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import azure.functions as func
from azure.functions.timer import TimerRequest

from local_host.custom_headers import CustomHeaders
from local_host.http_types import LocalRequest, LocalResponse, problem_response
from local_host.routing import Route, RouteTable, RouteTemplate

logger = logging.getLogger("local_host")


@dataclass(frozen=True)
class HttpFunction:
    name: str
    route: RouteTemplate
    methods: frozenset[str]
    call: Any


@dataclass(frozen=True)
class TimerFunction:
    name: str
    schedule: str
    run_on_startup: bool
    call: Any


class FunctionsHost:
    def __init__(
        self,
        app: func.FunctionApp,
        route_prefix: str = "api",
        custom_headers: CustomHeaders | None = None,
    ) -> None:
        self.route_prefix = route_prefix.strip("/")
        self.custom_headers = custom_headers or CustomHeaders()
        self.http: list[HttpFunction] = []
        self.timers: list[TimerFunction] = []
        # get_functions() is not idempotent (a second call fails on "unique function name"),
        # so it is called exactly once, here, and its result kept.
        for function in app.get_functions():
            found = function.get_trigger()
            name = function.get_function_name()
            if found is None or name is None:
                continue  # the worker would not index it either
            trigger = found.get_dict_repr()
            call = function.get_user_function()
            if trigger["type"] == "httpTrigger":
                methods = trigger.get("methods") or ["GET", "POST", "PUT", "PATCH", "DELETE"]
                self.http.append(
                    HttpFunction(
                        name=name,
                        route=RouteTemplate.parse(str(trigger.get("route") or name)),
                        methods=frozenset(str(getattr(m, "value", m)).upper() for m in methods),
                        call=call,
                    )
                )
            elif trigger["type"] == "timerTrigger":
                self.timers.append(
                    TimerFunction(
                        name=name,
                        schedule=trigger["schedule"],
                        run_on_startup=bool(trigger.get("runOnStartup")),
                        call=call,
                    )
                )

        self._routes = RouteTable(
            tuple(Route(f.methods, f.route, f) for f in self.http), "endpoint"
        )

    @classmethod
    def from_host_json(cls, app: func.FunctionApp, host_json: Path) -> FunctionsHost:
        config = json.loads(host_json.read_text())
        prefix = config.get("extensions", {}).get("http", {}).get("routePrefix", "api")
        return cls(app, prefix, CustomHeaders.from_host_config(config))

    def owns(self, path: str) -> bool:
        # Case-insensitive, as the Functions host's routes (ASP.NET Core's) are: /API/x is /api/x.
        prefix = f"/{self.route_prefix}".lower() if self.route_prefix else ""
        path = path.lower()
        return path == prefix or path.startswith(prefix + "/")

    def dispatch(self, request: LocalRequest) -> LocalResponse:
        # Every answer under the prefix, the route table's 404 and 405 and a raising
        # function's 500 as well as the functions' own, gets host.json's customHeaders, as the
        # Functions host's middleware adds them to all of these (see custom_headers.py).
        return self.custom_headers.apply(self._dispatch(request))

    def _dispatch(self, request: LocalRequest) -> LocalResponse:
        path = unquote(request.path)[len(self.route_prefix) + 1 :].strip("/")
        found = self._routes.resolve(request, path)
        if isinstance(found, LocalResponse):
            return found
        function, params = found
        return self._invoke(function, request, params)

    def _invoke(
        self, function: HttpFunction, request: LocalRequest, params: dict[str, str]
    ) -> LocalResponse:
        http_request = func.HttpRequest(
            method=request.method,
            url=request.url,
            headers=request.headers,
            params=request.query,
            route_params=params,
            body=request.body,
        )
        try:
            response: func.HttpResponse = function.call(http_request)
        except Exception:
            # What the real host does: the exception is logged and the caller gets a 500.
            logger.exception("Function %s raised", function.name)
            return problem_response(500, "Internal error", "The function raised an exception.")
        headers = [(name, value) for name, value in response.headers.items()]
        if not any(name.lower() == "content-type" for name, _ in headers):
            charset = response.charset or "utf-8"
            mimetype = response.mimetype or "text/plain"
            headers.append(("Content-Type", f"{mimetype}; charset={charset}"))
        return LocalResponse(response.status_code, response.get_body() or b"", headers)

    def run_timer(self, name: str, past_due: bool = False) -> bool:
        timer = next((t for t in self.timers if t.name == name), None)
        if timer is None:
            return False
        # func.TimerRequest is the abstract type; the worker passes this concrete one.
        timer.call(TimerRequest(past_due=past_due))
        return True
