"""The HTTP door every function shares: routing, health, metrics, and errors that never leak.

functions-framework sends every path to the target function, so a function's
``handle`` is a :class:`FunctionApp` that routes ``POST /`` to the function's
work and answers ``GET /healthz`` and ``GET /metrics`` itself.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import flask
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from whooper_common.config import ConfigError, Env
from whooper_common.metrics import HttpMetrics

log = logging.getLogger("whooper.http")

Handler = Callable[[flask.Request], flask.Response]
UNMATCHED_ROUTE = "unmatched"  # one label value for every unknown path keeps the metric's cardinality bounded


class HTTPError(Exception):
    """An answer other than success, with a reason safe to show the caller."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> flask.Response:
    return flask.Response(
        json.dumps(body, default=str), status=status, mimetype="application/json", headers=dict(headers or {})
    )


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> flask.Response:
    return json_response({"error": message}, status=status, headers=headers)


class FunctionApp:
    """Routes requests by exact path and method, measures them and turns failures into clear answers.

    ``routes`` maps a path to ``{method: handler}``. ``/healthz`` and ``/metrics``
    are added unless given. ``ready`` may return a reason the function cannot
    serve, which ``/healthz`` then reports with 503.
    """

    def __init__(
        self,
        name: str,
        registry: CollectorRegistry,
        routes: Mapping[str, Mapping[str, Handler]],
        ready: Callable[[], str | None] | None = None,
    ) -> None:
        self.name = name
        self.registry = registry
        self._metrics = HttpMetrics(registry)
        self._ready = ready
        self._routes: dict[str, dict[str, Handler]] = {
            "/healthz": {"GET": self._healthz},
            "/metrics": {"GET": self._export_metrics},
        }
        for path, methods in routes.items():
            self._routes[path] = {m.upper(): h for m, h in methods.items()}

    def __call__(self, request: flask.Request) -> flask.Response:
        started = time.perf_counter()
        path = request.path or "/"
        route = path if path in self._routes else UNMATCHED_ROUTE
        try:
            response = self._dispatch(request, path)
        except HTTPError as error:
            response = error_response(error.status, error.message, error.headers)
        except Exception:
            # The caller gets a retryable answer without internals; the stack trace goes to the log only.
            log.exception("unhandled error in %s", self.name, extra={"route": route, "method": request.method})
            response = error_response(500, "internal error; the function's log has the details")
        self._metrics.observe(request.method, route, response.status_code, time.perf_counter() - started)
        return response

    def _dispatch(self, request: flask.Request, path: str) -> flask.Response:
        methods = self._routes.get(path)
        if methods is None:
            raise HTTPError(404, f"no route for {path}; this function serves {', '.join(sorted(self._routes))}")
        handler = methods.get(request.method)
        if handler is None:
            if request.method == "HEAD" and "GET" in methods:
                handler = methods["GET"]
            else:
                allowed = ", ".join(sorted(methods))
                raise HTTPError(405, f"{request.method} is not allowed on {path}; use {allowed}", {"Allow": allowed})
        return handler(request)

    def _healthz(self, _request: flask.Request) -> flask.Response:
        reason = self._ready() if self._ready else None
        if reason:
            return json_response({"status": "unavailable", "function": self.name, "reason": reason}, 503)
        return json_response({"status": "ok", "function": self.name})

    def _export_metrics(self, _request: flask.Request) -> flask.Response:
        return flask.Response(generate_latest(self.registry), status=200, content_type=CONTENT_TYPE_LATEST)


def misconfigured(name: str, reason: str) -> Handler:
    """What a function answers, on every path, when its configuration is unusable: 503 and the reason."""

    def answer(_request: flask.Request) -> flask.Response:
        return error_response(503, f"{name} is misconfigured: {reason}")

    return answer


def lazy_handler(name: str, build: Callable[[Env], Handler], env: Env | None = None) -> Handler:
    """The functions-framework target: builds the app from the environment on first use, once.

    Building on first use (not at import) keeps configuration out of import
    time; a configuration error is logged once and then answered with 503 on
    every request, so the revision never turns ready and the reason is visible.
    """
    lock = threading.Lock()
    built: list[Handler] = []

    def handle(request: flask.Request) -> flask.Response:
        if not built:
            with lock:
                if not built:
                    try:
                        built.append(build(os.environ if env is None else env))
                    except ConfigError as error:
                        log.error("%s cannot start: %s", name, error, extra={"function": name})
                        built.append(misconfigured(name, str(error)))
        return built[0](request)

    return handle
