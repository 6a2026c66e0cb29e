"""From the pods' kept states to the series pushed for ``job="whooper-pod-exporter"``.

:class:`PodGroup` turns the states into metric families lazily, one family at
a time, when the registry is pushed, so only one family's samples exist at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import attrgetter
from typing import NamedTuple

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.samples import Sample

from pod_exporter.pods import PHASES, ContainerState, PodState


def _streamed(name: str, documentation: str, kind: str, samples: Iterator[Sample]) -> Metric:
    """A family whose samples are made while it is written out rather than held in a list.

    The exposition (``generate_latest``, one family at a time in ``push``) reads each
    family's samples once, in order; a generator in their place means the
    samples of 100,000 containers never exist all at once, which halves a
    large run's peak memory.
    """
    family = Metric(name, documentation, kind)
    family.samples = samples  # type: ignore[assignment]
    return family


class RunHealth(NamedTuple):
    """The exporter's own health, pushed with the pods."""

    finished_at: float
    duration_seconds: float
    pods_listed: int


class PodGroup:
    """A collector of the whole pushed group: totals, per namespace, per pod, and the run's health.

    ``namespaces`` are reported with zero pods when they have none, so a watched
    namespace that empties shows 0 rather than disappearing.
    """

    def __init__(self, pods: Sequence[PodState], health: RunHealth, namespaces: Iterable[str] = ()) -> None:
        self.pods = pods
        self.health = health
        self.namespaces = tuple(namespaces)

    def registry(self) -> CollectorRegistry:
        """A fresh registry holding only this group (never the global one: it would push process metrics too)."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return registry

    def collect(self) -> Iterator[Metric]:
        yield from self._totals()
        yield self._per_namespace()
        yield from self._per_pod()
        yield from self._health()

    def _totals(self) -> Iterator[Metric]:
        by_phase = Counter(pod.phase for pod in self.pods)
        yield GaugeMetricFamily("whooper_pods_total", "Pods listed, in every phase.", value=len(self.pods))
        for phase in PHASES:
            yield GaugeMetricFamily(
                f"whooper_pods_{phase.lower()}", f"Pods in phase {phase}.", value=by_phase.get(phase, 0)
            )

    def _per_namespace(self) -> Metric:
        counts = Counter((pod.namespace, pod.phase) for pod in self.pods)
        namespaces = sorted({*self.namespaces, *(pod.namespace for pod in self.pods)})
        family = GaugeMetricFamily(
            "whooper_namespace_pods", "Pods per namespace and phase.", labels=["namespace", "phase"]
        )
        for namespace in namespaces:
            for phase in PHASES:
                family.add_metric([namespace, phase], counts.get((namespace, phase), 0))
        return family

    def _per_pod(self) -> Iterator[Metric]:
        pods = self.pods
        yield _streamed(
            "whooper_pod_phase",
            "1 for the pod's current phase.",
            "gauge",
            (Sample("whooper_pod_phase", {"namespace": p.namespace, "pod": p.name, "phase": p.phase}, 1) for p in pods),
        )
        yield _streamed(
            "whooper_pod_container_restarts",
            "Restarts of a container (its restartCount).",
            "counter",
            (
                Sample(
                    "whooper_pod_container_restarts_total",
                    {"namespace": p.namespace, "pod": p.name, "container": c.name},
                    c.restarts,
                )
                for p in pods
                for c in p.containers
            ),
        )
        yield self._reasons(
            "whooper_pod_container_waiting",
            "1 while a container waits, with the reason (CrashLoopBackOff, ImagePullBackOff, ...).",
            attrgetter("waiting_reason"),
        )
        yield self._reasons(
            "whooper_pod_container_last_terminated",
            "1 for the reason a container last terminated (OOMKilled, Error, Completed, ...).",
            attrgetter("terminated_reason"),
        )
        name = "whooper_pod_pending_since_timestamp_seconds"
        yield _streamed(
            name,
            "Unix time a Pending pod was created (it has been pending since).",
            "gauge",
            (
                Sample(name, {"namespace": p.namespace, "pod": p.name}, p.pending_since)
                for p in pods
                if p.pending_since is not None
            ),
        )

    def _reasons(self, name: str, documentation: str, reason_of: Callable[[ContainerState], str | None]) -> Metric:
        return _streamed(
            name,
            documentation,
            "gauge",
            (
                Sample(name, {"namespace": p.namespace, "pod": p.name, "container": c.name, "reason": reason}, 1)
                for p in self.pods
                for c in p.containers
                if (reason := reason_of(c))
            ),
        )

    def _health(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "whooper_pod_exporter_last_success_timestamp_seconds",
            "Unix time the exporter last listed the pods and pushed this group.",
            value=self.health.finished_at,
        )
        yield GaugeMetricFamily(
            "whooper_pod_exporter_run_duration_seconds",
            "Time the last run took to list and read the pods.",
            value=self.health.duration_seconds,
        )
        yield GaugeMetricFamily(
            "whooper_pod_exporter_pods_listed", "Pods the last run listed.", value=self.health.pods_listed
        )
