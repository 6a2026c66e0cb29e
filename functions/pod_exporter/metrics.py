"""The exporter's own counters, on its /metrics (scraped by the PodMonitor), not in the pushed group."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from pod_exporter.failures import KINDS
from whooper_common.metrics import NAMESPACE


class ExporterMetrics:
    """``whooper_pod_exporter_runs_total{outcome}`` and ``whooper_pod_exporter_errors_total{kind}``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter(
            "pod_exporter_runs", "Exporter runs, by outcome.", ["outcome"], namespace=NAMESPACE, registry=registry
        )
        self.errors = Counter(
            "pod_exporter_errors",
            "Failed exporter runs, by kind of error.",
            ["kind"],
            namespace=NAMESPACE,
            registry=registry,
        )
        # Every series exists from the start at 0, so rate() and increase() see the first failure.
        for outcome in ("success", "failure"):
            self.runs.labels(outcome)
        for kind in KINDS:
            self.errors.labels(kind)

    def succeeded(self) -> None:
        self.runs.labels("success").inc()

    def failed(self, kind: str) -> None:
        self.runs.labels("failure").inc()
        self.errors.labels(kind).inc()
