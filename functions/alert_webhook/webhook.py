"""``POST /``: authenticate, read the notification, mail it once, send its events, and only then answer 2xx."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import flask
from prometheus_client import CollectorRegistry, Counter

from alert_webhook.auth import BearerAuth
from alert_webhook.dedupe import SentRecord, notification_key
from alert_webhook.intake import read_notification
from alert_webhook.render import Renderer, notification_name
from alert_webhook.sink import EventSink, SinkError
from whooper_common.alertmanager import Notification
from whooper_common.events import alert_event_attributes, alert_event_data
from whooper_common.httpapp import HTTPError, error_response, json_response
from whooper_common.mailer import Mailer, MailError, one_line
from whooper_common.metrics import NAMESPACE

log = logging.getLogger("whooper.alert_webhook")

FUNCTION = "alert_webhook"
RETRY_AFTER = {"Retry-After": "10"}


def _without_reading_the_body(response: flask.Response) -> flask.Response:
    """Mark a refusal as streamed: functions-framework then skips reading the rest of the body into memory.

    It reads the whole request body after every non-streamed answer; for an
    unauthenticated or oversized request that would buffer whatever the sender
    chose to send (gigabytes), which the refusal exists to avoid.
    """
    response.response = iter([response.get_data()])
    return response


class AlertMetrics:
    """``whooper_alerts_triggered_total{severity,type}``, ``whooper_alerts_resolved_total{type}``; type = alertname."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.triggered = Counter(
            "alerts_triggered",
            "Firing alerts mailed, by severity and alert name.",
            ["severity", "type"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.resolved = Counter(
            "alerts_resolved",
            "Resolved alerts mailed, by alert name.",
            ["type"],
            namespace=NAMESPACE,
            registry=registry,
        )

    def count(self, notification: Notification) -> None:
        for alert in notification.alerts:
            if alert.status == "firing":
                self.triggered.labels(alert.severity, alert.name).inc()
            else:
                self.resolved.labels(alert.name).inc()


class AlertWebhook:
    """The work behind ``POST /``; every collaborator is handed in, so tests build it with real servers."""

    def __init__(
        self,
        auth: BearerAuth,
        mailer: Mailer,
        sink: EventSink | None,
        record: SentRecord,
        registry: CollectorRegistry,
        max_body_bytes: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.auth = auth
        self.mailer = mailer
        self.sink = sink
        self.record = record
        self.max_body_bytes = max_body_bytes
        self.renderer = Renderer()
        self.metrics = AlertMetrics(registry)
        self._clock = clock

    def __call__(self, request: flask.Request) -> flask.Response:
        try:
            self.auth.check(request)
            notification = read_notification(request, self.max_body_bytes)
        except HTTPError as error:
            # The caller sees the reason; the operator, who wonders why no email came, sees it here.
            log.warning("Request refused with %d: %s", error.status, error.message, extra={"status": error.status})
            return _without_reading_the_body(error_response(error.status, error.message, error.headers))
        log.info(
            "Received %d alert(s) from Prometheus AlertManager",
            len(notification.alerts),
            extra={
                "status": notification.status,
                "receiver": notification.receiver,
                "truncated": notification.truncated_alerts,
            },
        )
        key = notification_key(notification)
        with self.record.hold(key):
            email = self._mail_once(notification, key)
            events = self._send_events(notification, key)
        return json_response({"email": email, "events": events, "alerts": len(notification.alerts)})

    def _mail_once(self, notification: Notification, key: str) -> str:
        name = one_line(notification_name(notification))
        if key in self.record:
            log.info(
                "Alert email already sent for this notification, not sending it again: %s (%s)",
                name,
                notification.status,
                extra={"notification": key},
            )
            return "already sent"
        email = self.renderer.render(notification, self._clock())
        try:
            self.mailer.send(email)
        except MailError:
            raise HTTPError(
                503, "alert email could not be sent now (mail server unavailable); retry later", RETRY_AFTER
            ) from None
        self.record.add(key)
        self.metrics.count(notification)
        log.info(
            "Alert email sent: %s (%s)",
            name,
            notification.status,
            extra={"subject": email.subject, "notification": key},
        )
        return "sent"

    def _send_events(self, notification: Notification, key: str) -> int:
        if self.sink is None:
            return 0
        sent = 0
        for alert in notification.alerts:
            attributes = alert_event_attributes(alert, FUNCTION)
            event_key = f"{key}/{attributes['id']}"
            if event_key in self.record:
                continue  # accepted on an earlier attempt of this notification
            try:
                self.sink.send(attributes, alert_event_data(alert, notification))
            except SinkError as error:
                log.warning(
                    "CloudEvent not accepted: %s",
                    error,
                    extra={"event_type": attributes["type"], "event_id": attributes["id"]},
                )
                raise HTTPError(
                    503, "event sink unavailable; the alert email went out, events will be sent on retry", RETRY_AFTER
                ) from None
            self.record.add(event_key)
            sent += 1
        log.info("Sent %d CloudEvent(s) to the sink", sent, extra={"notification": key})
        return sent
