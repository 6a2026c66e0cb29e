"""One run: list the pods, build the group, push it. No push at all when any step fails."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pod_exporter.collect import list_pods
from pod_exporter.config import ExporterConfig
from pod_exporter.failures import ExportFailure
from pod_exporter.push import push_group
from pod_exporter.series import PodGroup, RunHealth
from whooper_common.config import ConfigError


@dataclass(frozen=True)
class Result:
    pods: int
    namespaces: int
    pages: int
    restarts: int  # lists started again after a 410 Gone
    list_seconds: float  # listing the pods (pushed as run_duration_seconds)
    # writing the group out (the exposition is made while it is pushed) and the PUT
    push_seconds: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "pods": self.pods,
            "namespaces": self.namespaces,
            "pages": self.pages,
            "listRestarts": self.restarts,
            "listSeconds": round(self.list_seconds, 3),
            "pushSeconds": round(self.push_seconds, 3),
        }


def run_once(config: ExporterConfig) -> Result:
    """List every watched pod and push the group; :class:`~pod_exporter.failures.ExportFailure` when it cannot."""
    started = time.perf_counter()
    try:
        api = config.api  # made by the first run (see load_config)
    except ConfigError as error:
        # Only the files' presence was checked at start; their content is read now. Answered like any failed
        # run, so the next tick tries again (a kubeconfig fixed in place is then picked up).
        raise ExportFailure("kubernetes_config", 503, f"the Kubernetes client cannot be made: {error}") from None
    listing = list_pods(api, config.namespaces, config.page_size, config.kube_timeout)
    listed = time.perf_counter()
    health = RunHealth(finished_at=time.time(), duration_seconds=listed - started, pods_listed=len(listing.pods))
    group = PodGroup(listing.pods, health, config.namespaces)
    push_group(config.pushgateway_url, group.registry(), config.push_timeout)
    return Result(
        pods=len(listing.pods),
        namespaces=len({pod.namespace for pod in listing.pods}),
        pages=listing.pages,
        restarts=listing.restarts,
        list_seconds=listed - started,
        push_seconds=time.perf_counter() - listed,
    )
