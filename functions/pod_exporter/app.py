"""Builds the pod_exporter app: ``POST /`` (a PingSource tick or a plain POST) runs the export once."""

from __future__ import annotations

import logging
import threading

import flask

from pod_exporter.config import load_config
from pod_exporter.export import run_once
from pod_exporter.failures import ExportFailure
from pod_exporter.metrics import ExporterMetrics
from pod_exporter.push import JOB, shown_url
from pod_exporter.trigger import read_trigger
from whooper_common import logs
from whooper_common.config import Env, get_str
from whooper_common.httpapp import FunctionApp, HTTPError, json_response
from whooper_common.metrics import new_registry

log = logging.getLogger("whooper.pod_exporter")


def build(env: Env) -> FunctionApp:
    logs.configure(get_str(env, "LOG_LEVEL", "INFO"))
    config = load_config(env)
    registry = new_registry()
    metrics = ExporterMetrics(registry)
    # One run at a time: a tick that arrives during a run waits and then lists afresh, rather than doubling
    # the load on the API server.
    running = threading.Lock()
    pushgateway = shown_url(config.pushgateway_url)
    scope = ", ".join(config.namespaces) or "all namespaces"
    log.info("pod_exporter pushes pods of %s to %s as job %s", scope, pushgateway, JOB)

    def run(request: flask.Request) -> flask.Response:
        trigger = read_trigger(request)
        with running:
            try:
                result = run_once(config)
            except ExportFailure as failure:
                metrics.failed(failure.kind)
                log.error("export failed (%s): %s", failure.kind, failure.message, extra={"kind": failure.kind})
                raise HTTPError(failure.status, failure.message) from None
        metrics.succeeded()
        log.info("exported %d pods on %s", result.pods, trigger, extra=result.as_dict())
        return json_response({"status": "pushed", "job": JOB, **result.as_dict()})

    return FunctionApp("pod_exporter", registry, {"/": {"POST": run}})
