"""``POST /dead-letter``: the Broker's and Triggers' dead-letter sink.

An event lands here when every delivery attempt failed. There is nothing left
to retry, so the function logs it (type, id, where delivery failed and the
error Knative recorded, redacted) and counts it, and an alert fires on the
count. It answers 2xx so the dead letter itself is not retried.
"""

from __future__ import annotations

import base64
import binascii
import logging

import flask
from prometheus_client import CollectorRegistry, Counter

from incident_report.redact import redact
from whooper_common import events
from whooper_common.httpapp import HTTPError
from whooper_common.metrics import NAMESPACE

log = logging.getLogger("whooper.incident_report.deadletter")

# Label values are kept to the types this system sends, so an odd sender cannot grow the metric.
KNOWN_TYPES = frozenset(
    {events.ALERT_FIRING, events.ALERT_RESOLVED, events.INCIDENT_OPENED, events.INCIDENT_RESOLVED, events.PING}
)
OTHER_TYPE = "other"  # the label of any type not in KNOWN_TYPES
_MAX_ERROR_DATA = 500


def _error_data(value: object) -> str:
    """Knative's ``knativeerrordata`` (base64 of the failed response body), decoded, redacted and cut."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        text = value
    return redact(" ".join(text.split()))[:_MAX_ERROR_DATA]


class DeadLetters:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.counter = Counter(
            "events_dead_lettered",
            "CloudEvents the Broker gave up delivering (received on /dead-letter), by type.",
            ["type"],
            namespace=NAMESPACE,
            registry=registry,
        )
        # Every series exists from the start at 0: increase() sees no first sample of a new series, so the
        # alert on the first dead letter of a type would otherwise never fire.
        for event_type in (*sorted(KNOWN_TYPES), OTHER_TYPE):
            self.counter.labels(event_type)

    def handle(self, request: flask.Request) -> flask.Response:
        try:
            event = events.from_request(request)
        except events.EventError as error:
            raise HTTPError(400, str(error)) from None
        event_type = str(event["type"])
        self.counter.labels(event_type if event_type in KNOWN_TYPES else OTHER_TYPE).inc()
        log.error(
            "event dead-lettered: %s %s",
            event_type,
            event["id"],
            extra={
                "event_type": event_type,
                "event_id": str(event["id"]),
                "event_source": str(event["source"]),
                "event_subject": str(event.get("subject", "")),
                "error_code": str(event.get("knativeerrorcode", "")),
                "error_destination": str(event.get("knativeerrordest", "")),
                "error_data": _error_data(event.get("knativeerrordata")),
            },
        )
        return flask.Response(status=204)
