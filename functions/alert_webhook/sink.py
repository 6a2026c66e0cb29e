"""One CloudEvent per alert, in binary content mode, to ``K_SINK`` (the Knative Broker).

A non-2xx answer or no answer within the timeout raises :class:`SinkError`, so
the webhook answers 503 and Alertmanager retries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import requests
from cloudevents.http import CloudEvent
from prometheus_client import CollectorRegistry, Counter

from whooper_common.config import ConfigError, Env, get_float, get_str
from whooper_common.events import parse_overrides, to_binary_request
from whooper_common.metrics import NAMESPACE

log = logging.getLogger("whooper.alert_webhook")

DEFAULT_SINK_TIMEOUT_SECONDS = 5.0  # several events fit in one request well under Alertmanager's webhook deadline


class SinkError(Exception):
    """The sink did not accept an event; retrying later may work."""


@dataclass
class EventSink:
    url: str
    overrides: dict[str, str]
    registry: CollectorRegistry
    timeout: float = DEFAULT_SINK_TIMEOUT_SECONDS
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def __post_init__(self) -> None:
        self._sent = Counter(
            "cloudevents_sent",
            "CloudEvents sent to K_SINK, by type and outcome (accepted, rejected, unreachable).",
            ["type", "outcome"],
            namespace=NAMESPACE,
            registry=self.registry,
        )

    def send(self, event: CloudEvent) -> None:
        event_type = str(event["type"])
        headers, body = to_binary_request(event, self.overrides)
        try:
            response = self.session.post(self.url, headers=headers, data=body, timeout=self.timeout)
        except requests.RequestException as error:
            self._sent.labels(event_type, "unreachable").inc()
            raise SinkError(f"sink {self.url} unreachable: {type(error).__name__}") from None
        if not response.ok:
            self._sent.labels(event_type, "rejected").inc()
            raise SinkError(f"sink {self.url} answered {response.status_code} to event {event['id']}")
        self._sent.labels(event_type, "accepted").inc()


def sink_from_env(env: Env, registry: CollectorRegistry) -> EventSink | None:
    """The sink, or ``None`` (said once, here) when ``K_SINK`` is unset."""
    url = get_str(env, "K_SINK")
    if not url:
        log.warning("K_SINK is not set: no CloudEvents will be sent (bind a SinkBinding to send them to the Broker)")
        return None
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"K_SINK={url!r} must be an http:// or https:// URL")
    timeout = get_float(env, "SINK_TIMEOUT_SECONDS", DEFAULT_SINK_TIMEOUT_SECONDS, minimum=0.1)
    return EventSink(url, parse_overrides(env), registry, timeout)
