"""Builds the incident_report app from its configuration."""

from __future__ import annotations

import flask

from whooper_common import logs
from whooper_common.config import Env, get_str
from whooper_common.httpapp import FunctionApp, HTTPError
from whooper_common.metrics import new_registry


def _not_yet(_request: flask.Request) -> flask.Response:
    raise HTTPError(501, "incident_report does not handle events yet")


def build(env: Env) -> FunctionApp:
    logs.configure(get_str(env, "LOG_LEVEL", "INFO"))
    return FunctionApp("incident_report", new_registry(), {"/": {"POST": _not_yet}})
