"""One CloudEvent per alert, in binary content mode, to ``K_SINK`` (the Knative Broker).

A non-2xx answer or no answer within the timeout raises :class:`SinkError`, so
the webhook answers 503 and Alertmanager retries.

Events go through one urllib3 pool of keep-alive connections, with their
headers and body built directly (:func:`whooper_common.events.binary_request`):
a 1,000-alert notification is 1,000 POSTs, and a new connection, ``requests``'
per-request machinery and the SDK's conversion made up most of its time.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter

from whooper_common.config import ConfigError, Env, get_float, get_str
from whooper_common.events import ALERT_TYPES, binary_request, parse_overrides
from whooper_common.metrics import NAMESPACE

if TYPE_CHECKING:
    import urllib3

log = logging.getLogger("whooper.alert_webhook")

# The ``outcome`` of whooper_cloudevents_sent_total.
Outcome = Literal["accepted", "rejected", "unreachable"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
DEFAULT_SINK_TIMEOUT_SECONDS = 5.0  # several events fit in one request well under Alertmanager's webhook deadline
POOL_SIZE = 16  # idle keep-alive connections kept; functions-framework serves 4 threads a CPU


class SinkError(Exception):
    """The sink did not accept an event; retrying later may work."""


@dataclass
class EventSink:
    url: str
    overrides: dict[str, str]
    registry: CollectorRegistry
    timeout: float = DEFAULT_SINK_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
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

    @functools.cached_property
    def pool(self) -> urllib3.HTTPConnectionPool:
        """Made on the first event, so urllib3 is not imported before a cold start's first answer needs it."""
        import urllib3

        # One host, so its connection pool is used directly: a PoolManager in front of it parses the URL and
        # looks the pool up again for every event: about 0.15 ms more CPU per event (0.38 against 0.23) on loopback.
        # No retries and no redirects: a failed POST is a SinkError, and Alertmanager's retry resends it.
        return urllib3.connection_from_url(
            self.url, maxsize=POOL_SIZE, retries=False, timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout)
        )

    def send(self, attributes: Mapping[str, str], data: Mapping[str, Any]) -> None:
        """POST one event; ``attributes`` as :func:`whooper_common.events.alert_event_attributes` gives them."""
        import urllib3

        event_type = attributes["type"]
        headers, body = binary_request(attributes, data, self.overrides)
        try:
            response = self.pool.urlopen("POST", self._path, body=body, headers=headers, redirect=False)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            self._count(event_type, "unreachable")
            raise SinkError(f"sink {self.url} unreachable: {type(error).__name__}") from None
        if not 200 <= response.status < 300:
            self._count(event_type, "rejected")
            raise SinkError(f"sink {self.url} answered {response.status} to event {attributes['id']}")
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
