"""Builds the incident_report app from its configuration, and turns CloudEvents into incident work.

``POST /`` takes ``dev.whooper.alert.firing`` / ``.resolved`` (binary or
structured mode) and answers with the reply event ``dev.whooper.incident.*``
in binary mode when something new happened, else 204 with an empty body (which
Knative accepts as "delivered, no reply"). ``POST /dead-letter`` is the
Broker's dead-letter sink.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

import flask

from incident_report.answer import plain_text
from incident_report.context import ContextReader, Limits
from incident_report.deadletter import DeadLetters
from incident_report.incident_flow import IncidentFlow, IncidentMetrics, Outcome
from incident_report.incidents import IncidentStore
from incident_report.kubeapi import KubeRequestError, KubeUnavailable, LazyApis
from incident_report.report import ReportRenderer
from incident_report.summarize import AiMetrics, GeminiSettings, Summarizer
from whooper_common import events, logs
from whooper_common.alertmanager import Alert, PayloadError
from whooper_common.config import ConfigError, Env, get_float, get_int, get_str
from whooper_common.httpapp import FunctionApp, HTTPError
from whooper_common.kube import SERVICE_ACCOUNT_DIR
from whooper_common.mailer import MailError, mailer_from_env
from whooper_common.metrics import new_registry

log = logging.getLogger("whooper.incident_report")

FUNCTION = "incident_report"
DEFAULT_NAMESPACE = "whooper"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_OWN_TYPES = frozenset({events.INCIDENT_OPENED, events.INCIDENT_RESOLVED})


@dataclass(frozen=True)
class Settings:
    namespace: str
    limits: Limits

    @classmethod
    def from_env(cls, env: Env) -> Settings:
        namespace = get_str(env, "INCIDENT_NAMESPACE", DEFAULT_NAMESPACE) or DEFAULT_NAMESPACE
        if not _DNS_LABEL.match(namespace):
            raise ConfigError(f"INCIDENT_NAMESPACE={namespace!r} is not a Kubernetes namespace name")
        limits = Limits(
            log_lines=get_int(env, "CONTEXT_LOG_LINES", Limits.log_lines, minimum=0),
            log_bytes=get_int(env, "CONTEXT_LOG_BYTES", Limits.log_bytes, minimum=256),
            events=get_int(env, "CONTEXT_EVENTS", Limits.events, minimum=0),
            timeout=get_float(env, "KUBE_TIMEOUT_SECONDS", Limits.timeout, minimum=0.1),
        )
        return cls(namespace, limits)


def check_kubernetes_access(env: Env) -> None:
    """Fail the build early (and cheaply, without loading the kubernetes package) when no cluster access is set up."""
    kubeconfig = get_str(env, "KUBECONFIG")
    if kubeconfig:
        missing = [p for p in kubeconfig.split(os.pathsep) if p and not os.path.isfile(p)]
        if missing:
            raise ConfigError(f"KUBECONFIG names {', '.join(missing)}, which does not exist")
        return
    if not (get_str(env, "KUBERNETES_SERVICE_HOST") and (SERVICE_ACCOUNT_DIR / "token").is_file()):
        raise ConfigError("no Kubernetes API access: set KUBECONFIG, or run in a cluster with a service account")


def _alert_from(event: Any) -> tuple[Alert, dict[str, str]]:
    """The alert an event carries and where it came from; HTTPError 400 naming what is wrong."""
    data = event.get_data()
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except ValueError:
            raise HTTPError(400, "event data is not JSON") from None
    if not isinstance(data, dict):
        raise HTTPError(400, "event data must be a JSON object holding one Alertmanager alert")
    try:
        alert = Alert.from_dict(data, "data")
    except PayloadError as error:
        raise HTTPError(400, f"event data is not an alert: {error}") from None
    expected = "firing" if event["type"] == events.ALERT_FIRING else "resolved"
    if alert.status != expected:
        raise HTTPError(400, f"event type {event['type']} does not match data.status {alert.status!r}")
    origin = {key: data[key] for key in ("receiver", "groupKey", "externalURL") if isinstance(data.get(key), str)}
    return alert, origin


def _no_reply() -> flask.Response:
    """Delivered, nothing to answer: Knative takes an empty 2xx as "no reply event"."""
    return flask.Response(status=204)


def _reply(outcome: Outcome) -> flask.Response:
    if outcome.reply is None:
        return _no_reply()
    headers, body = events.to_binary_request(outcome.reply)
    return flask.Response(body, status=200, headers=headers)


class EventHandler:
    def __init__(self, flow: IncidentFlow) -> None:
        self._flow = flow

    def __call__(self, request: flask.Request) -> flask.Response:
        try:
            event = events.from_request(request)
        except events.EventError as error:
            raise HTTPError(400, str(error)) from None
        event_type = str(event["type"])
        if event_type in _OWN_TYPES:
            log.info("ignoring an event of our own type", extra={"event_type": event_type, "event_id": event["id"]})
            return _no_reply()
        if event_type not in (events.ALERT_FIRING, events.ALERT_RESOLVED):
            log.info("ignoring event of unhandled type", extra={"event_type": event_type, "event_id": event["id"]})
            return _no_reply()
        alert, origin = _alert_from(event)
        try:
            if alert.status == "firing":
                outcome = self._flow.firing(alert, origin)
            else:
                outcome = self._flow.resolved(alert, origin)
        except KubeUnavailable as error:
            log.warning("Kubernetes API unavailable: %s", error, extra={"event_id": event["id"]})
            raise HTTPError(503, f"{error}; retry later") from None
        except KubeRequestError as error:
            # Not transient by itself (a missing INCIDENT_NAMESPACE, an outdated CRD), but fixable in the cluster:
            # 503 keeps the event on the Broker's retries and then in its dead-letter sink, not dropped.
            log.error("%s", error, extra={"event_id": event["id"]})
            raise HTTPError(503, f"{error}; fix the cluster side, then the event is delivered again") from None
        except MailError as error:
            raise HTTPError(503, f"the email could not be sent ({plain_text(str(error))}); retry later") from None
        except ConfigError as error:
            log.error("incident_report cannot reach Kubernetes: %s", error)
            raise HTTPError(503, f"incident_report is misconfigured: {error}") from None
        handled = {"event_id": event["id"], "event_type": event_type, "incident": outcome.incident}
        log.info("event handled: %s", outcome.action, extra={**handled, "action": outcome.action})
        return _reply(outcome)


def build(env: Env) -> FunctionApp:
    logs.configure(get_str(env, "LOG_LEVEL", "INFO"))
    settings = Settings.from_env(env)
    check_kubernetes_access(env)
    registry = new_registry()
    mailer = mailer_from_env(env, registry)
    gemini = GeminiSettings.from_env(env)
    if not gemini.api_key:
        log.warning("GEMINI_API_KEY is not set: incident reports use the template summary")
    apis = LazyApis(env)
    flow = IncidentFlow(
        store=lambda: IncidentStore(apis.custom_objects(), settings.namespace, settings.limits.timeout),
        reader=lambda: ContextReader(apis.core(), settings.limits),
        summarizer=Summarizer(gemini, AiMetrics(registry)),
        renderer=ReportRenderer(),
        mailer=mailer,
        metrics=IncidentMetrics(registry),
    )
    dead_letters = DeadLetters(registry)
    return FunctionApp(
        FUNCTION,
        registry,
        {"/": {"POST": EventHandler(flow)}, "/dead-letter": {"POST": dead_letters.handle}},
    )
