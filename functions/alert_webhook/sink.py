"""One CloudEvent per alert, in binary content mode, to ``K_SINK`` (the Knative Broker).

A non-2xx answer or no answer within the timeout raises :class:`SinkError`, so
the webhook answers 503 and Alertmanager retries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal, get_args

import requests
from cloudevents.http import CloudEvent
from prometheus_client import CollectorRegistry, Counter

from whooper_common.config import ConfigError, Env, get_float, get_str
from whooper_common.events import ALERT_TYPES, parse_overrides, to_binary_request
from whooper_common.metrics import NAMESPACE

log = logging.getLogger("whooper.alert_webhook")

# The ``outcome`` of whooper_cloudevents_sent_total.
Outcome = Literal["accepted", "rejected", "unreachable"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
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
        # Every series of the events this function sends exists from the start at 0, so increase() sees
        # the first refused one.
        for event_type in sorted(ALERT_TYPES.values()):
            for outcome in OUTCOMES:
                self._sent.labels(event_type, outcome)

    def _count(self, event_type: str, outcome: Outcome) -> None:
        self._sent.labels(event_type, outcome).inc()

    def send(self, event: CloudEvent) -> None:
        event_type = str(event["type"])
        headers, body = to_binary_request(event, self.overrides)
        try:
            response = self.session.post(self.url, headers=headers, data=body, timeout=self.timeout)
        except requests.RequestException as error:
            self._count(event_type, "unreachable")
            raise SinkError(f"sink {self.url} unreachable: {type(error).__name__}") from None
        if not response.ok:
            self._count(event_type, "rejected")
            raise SinkError(f"sink {self.url} answered {response.status_code} to event {event['id']}")
        self._count(event_type, "accepted")


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
