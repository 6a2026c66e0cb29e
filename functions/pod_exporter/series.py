"""From pod JSON, as the Kubernetes API lists it, to the series pushed for ``job="whooper-pod-exporter"``.

A pod is cut down to :class:`PodState` as soon as its page is read, keeping
only what a series needs, so a run holds a few small tuples per pod rather than
the API's objects. :class:`PodGroup` turns the kept states into metric families
lazily, one family at a time, when the registry is pushed.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

PHASES = ("Running", "Pending", "Failed", "Succeeded", "Unknown")
_KNOWN_PHASES = frozenset(PHASES)


class ContainerState(NamedTuple):
    name: str
    restarts: int
    waiting_reason: str | None
    terminated_reason: str | None


class PodState(NamedTuple):
    namespace: str
    name: str
    phase: str
    pending_since: float | None  # unix time, only for a Pending pod
    containers: tuple[ContainerState, ...]


class RunHealth(NamedTuple):
    """The exporter's own health, pushed with the pods."""

    finished_at: float
    duration_seconds: float
    pods_listed: int


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _timestamp(value: Any) -> float | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _container(status: Mapping[str, Any]) -> ContainerState:
    state = status.get("state") or {}
    last_state = status.get("lastState") or {}
    waiting = state.get("waiting") or {}
    # A container that is terminated now (restartPolicy Never, or between restarts) last terminated for that
    # reason; otherwise the previous termination in lastState is the latest one.
    terminated = state.get("terminated") or last_state.get("terminated") or {}
    restarts = status.get("restartCount")
    waiting_reason = _text(waiting.get("reason"))
    terminated_reason = _text(terminated.get("reason"))
    return ContainerState(
        name=sys.intern(_text(status.get("name")) or "unnamed"),
        restarts=restarts if isinstance(restarts, int) else 0,
        waiting_reason=sys.intern(waiting_reason) if waiting_reason else None,
        terminated_reason=sys.intern(terminated_reason) if terminated_reason else None,
    )


def pod_state(item: Mapping[str, Any]) -> PodState:
    """What the series need from one pod of a pod list (init containers included: they crash-loop too)."""
    metadata = item.get("metadata") or {}
    status = item.get("status") or {}
    phase = status.get("phase")
    phase = phase if phase in _KNOWN_PHASES else "Unknown"
    statuses = [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]
    return PodState(
        # Interned: a namespace name repeats on every pod of the namespace; one copy is kept.
        namespace=sys.intern(_text(metadata.get("namespace")) or "default"),
        name=_text(metadata.get("name")) or "unnamed",
        phase=sys.intern(phase),
        pending_since=_timestamp(metadata.get("creationTimestamp")) if phase == "Pending" else None,
        containers=tuple(_container(s) for s in statuses if isinstance(s, Mapping)),
    )


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
        phase = GaugeMetricFamily(
            "whooper_pod_phase", "1 for the pod's current phase.", labels=["namespace", "pod", "phase"]
        )
        for pod in self.pods:
            phase.add_metric([pod.namespace, pod.name, pod.phase], 1)
        yield phase

        restarts = CounterMetricFamily(
            "whooper_pod_container_restarts",
            "Restarts of a container (its restartCount).",
            labels=["namespace", "pod", "container"],
        )
        for pod in self.pods:
            for container in pod.containers:
                restarts.add_metric([pod.namespace, pod.name, container.name], container.restarts)
        yield restarts

        waiting = GaugeMetricFamily(
            "whooper_pod_container_waiting",
            "1 while a container waits, with the reason (CrashLoopBackOff, ImagePullBackOff, ...).",
            labels=["namespace", "pod", "container", "reason"],
        )
        for pod in self.pods:
            for container in pod.containers:
                if container.waiting_reason:
                    waiting.add_metric([pod.namespace, pod.name, container.name, container.waiting_reason], 1)
        yield waiting

        terminated = GaugeMetricFamily(
            "whooper_pod_container_last_terminated",
            "1 for the reason a container last terminated (OOMKilled, Error, Completed, ...).",
            labels=["namespace", "pod", "container", "reason"],
        )
        for pod in self.pods:
            for container in pod.containers:
                if container.terminated_reason:
                    terminated.add_metric([pod.namespace, pod.name, container.name, container.terminated_reason], 1)
        yield terminated

        pending = GaugeMetricFamily(
            "whooper_pod_pending_since_timestamp_seconds",
            "Unix time a Pending pod was created (it has been pending since).",
            labels=["namespace", "pod"],
        )
        for pod in self.pods:
            if pod.pending_since is not None:
                pending.add_metric([pod.namespace, pod.name], pod.pending_since)
        yield pending

    def _health(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "whooper_pod_exporter_last_success_timestamp_seconds",
            "Unix time the exporter last listed the pods and pushed this group.",
            value=self.health.finished_at,
        )
        yield GaugeMetricFamily(
            "whooper_pod_exporter_run_duration_seconds",
            "Time the last run took to list the pods and build this group.",
            value=self.health.duration_seconds,
        )
        yield GaugeMetricFamily(
            "whooper_pod_exporter_pods_listed", "Pods the last run listed.", value=self.health.pods_listed
        )
