"""Events as the scheduler, kubelet and controllers record them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from devstack.kube_api.naming import hex_id, k8s_time, stable_uid
from devstack.kube_api.pods import OWNER_API_VERSIONS, waiting_state
from devstack.standin import JsonObject

_KIND_API_VERSIONS = {
    **OWNER_API_VERSIONS,
    "Deployment": "apps/v1",
    "CronJob": "batch/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
}


def make_event(
    namespace: str,
    involved_name: str,
    reason: str,
    message: str,
    *,
    kind: str = "Pod",
    event_type: str = "Warning",
    count: int = 1,
    first_seen: datetime | None = None,
    last_seen: datetime | None = None,
    component: str = "kubelet",
    host: str | None = "node-1",
    involved_uid: str | None = None,
    field_path: str | None = None,
    name: str | None = None,
) -> JsonObject:
    """A core/v1 Event as the kubelet or a controller records it (``kubectl get event -o json``)."""
    last_seen = last_seen or datetime.now(UTC).replace(microsecond=0)
    first_seen = first_seen or last_seen - timedelta(minutes=max(count - 1, 0))
    name = name or f"{involved_name}.{hex_id(16, namespace, involved_name, reason, message)}"
    involved: JsonObject = {"kind": kind, "namespace": namespace, "name": involved_name}
    involved["uid"] = involved_uid or stable_uid(kind.lower(), namespace, involved_name)
    involved["apiVersion"] = _KIND_API_VERSIONS.get(kind, "v1")
    involved["resourceVersion"] = "1"
    if field_path:
        involved["fieldPath"] = field_path
    source: JsonObject = {"component": component}
    if host:
        source["host"] = host
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": stable_uid("event", namespace, name),
            "resourceVersion": "1",
            "creationTimestamp": k8s_time(first_seen),
        },
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": k8s_time(first_seen),
        "lastTimestamp": k8s_time(last_seen),
        "count": count,
        "type": event_type,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }


def pod_events(pod: Mapping[str, Any]) -> list[JsonObject]:
    """The events the scheduler and kubelet would have recorded for a pod made by :func:`make_pod`."""
    metadata, status = pod["metadata"], pod.get("status", {})
    name, namespace, uid = metadata["name"], metadata["namespace"], metadata.get("uid", "")
    node = pod.get("spec", {}).get("nodeName")

    def event(reason: str, message: str, *, warning: bool = False, count: int = 1, **kwargs: Any) -> JsonObject:
        kwargs.setdefault("host", node)
        event_type = "Warning" if warning else "Normal"
        return make_event(
            namespace, name, reason, message, event_type=event_type, count=count, involved_uid=uid, **kwargs
        )

    if node is None:
        message = next((c.get("message", "") for c in status.get("conditions", []) if c["type"] == "PodScheduled"), "")
        return [event("FailedScheduling", message, warning=True, component="default-scheduler", host=None)]
    events = [event("Scheduled", f"Successfully assigned {namespace}/{name} to {node}", component="default-scheduler")]
    for container in status.get("containerStatuses", []):
        cname, image = container["name"], container["image"]
        path = f"spec.containers{{{cname}}}"
        waiting = container["state"].get("waiting", {})
        reason = waiting.get("reason")
        if reason in ("ImagePullBackOff", "ErrImagePull"):
            events.append(event("Pulling", f'Pulling image "{image}"', field_path=path, count=4))
            pull_error = waiting_state("ErrImagePull", image, cname, name, namespace, uid)["message"]
            failure = f'Failed to pull image "{image}": {pull_error}'
            events.append(event("Failed", failure, warning=True, field_path=path, count=4))
            events.append(event("Failed", f"Error: {reason}", warning=True, field_path=path, count=4))
            continue
        if reason == "ContainerCreating":
            continue
        restarts = container.get("restartCount", 0)
        events.append(event("Pulled", f'Container image "{image}" already present on machine', field_path=path))
        events.append(event("Created", f"Created container: {cname}", field_path=path, count=restarts + 1))
        events.append(event("Started", f"Started container {cname}", field_path=path, count=restarts + 1))
        if reason == "CrashLoopBackOff":
            message = f"Back-off restarting failed container {cname} in pod {name}_{namespace}({uid})"
            events.append(event("BackOff", message, warning=True, field_path=path, count=restarts * 4))
        if "running" in container["state"] and not container.get("ready", True):
            message = "Readiness probe failed: HTTP probe failed with statuscode: 503"
            events.append(event("Unhealthy", message, warning=True, field_path=path, count=12))
    if status.get("reason") == "Evicted":
        events.append(event("Evicted", status.get("message", ""), warning=True))
    return events
