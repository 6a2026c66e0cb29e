"""One Prometheus registry per built app, with the HTTP metrics every function exports.

A registry per app (not the client's global one) lets tests build many apps in
one process and keeps what a function exports explicit.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector

NAMESPACE = "whooper"

# Buckets up to Alertmanager's default webhook timeout and beyond, so slow calls stay visible.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def new_registry() -> CollectorRegistry:
    """A registry holding the process collector under the ``whooper_`` namespace."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(namespace=NAMESPACE, registry=registry)
    PlatformCollector(registry=registry)
    return registry


class HttpMetrics:
    """``whooper_http_requests_total{method,route,status}`` and ``whooper_http_request_duration_seconds``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route and status code.",
            ["method", "route", "status"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route.",
            ["method", "route"],
            namespace=NAMESPACE,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)
