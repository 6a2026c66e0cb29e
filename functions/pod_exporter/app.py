"""Builds the pod_exporter app from its configuration."""

from __future__ import annotations

import flask

from whooper_common import logs
from whooper_common.config import Env, get_str
from whooper_common.httpapp import FunctionApp, HTTPError
from whooper_common.metrics import new_registry


def _not_yet(_request: flask.Request) -> flask.Response:
    raise HTTPError(501, "pod_exporter does not handle events yet")


def build(env: Env) -> FunctionApp:
    logs.configure(get_str(env, "LOG_LEVEL", "INFO"))
    return FunctionApp("pod_exporter", new_registry(), {"/": {"POST": _not_yet}})
