"""Pods shaped like ``kubectl get pod -o json`` output: spec, container statuses and conditions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from devstack.kube_api.managed_fields import managed_fields
from devstack.kube_api.naming import hex_id, k8s_time, safe_id, sha_bytes, stable_ip, stable_uid
from devstack.standin import JsonObject

_REPLICASET_POD = re.compile(r"^(?P<app>.+?)-(?P<hash>[bcdfghjklmnpqrstvwxz2456789]{6,10})-(?P<suffix>[a-z0-9]{5})$")
_SIDECARS = (
    ("log-shipper", "docker.io/fluent/fluent-bit:3.0.7"),
    ("metrics-exporter", "quay.io/prometheus/statsd-exporter:v0.26.1"),
)
_EXIT_CODES = {"OOMKilled": 137, "Error": 1, "Completed": 0, "ContainerCannotRun": 128, "StartError": 128}
OWNER_API_VERSIONS = {"ReplicaSet": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1"}


def _owner(name: str, namespace: str, owner_kind: str | None) -> tuple[str, str | None, str | None]:
    """(app name, owner name, pod-template-hash) as controllers name their pods."""
    match = _REPLICASET_POD.match(name)
    if owner_kind == "ReplicaSet":
        app = match.group("app") if match else name
        template_hash = match.group("hash") if match else safe_id(10, namespace, app)
        return app, f"{app}-{template_hash}", template_hash
    if owner_kind == "StatefulSet":
        app = re.sub(r"-\d+$", "", name)
        return app, app, None
    if owner_kind in ("DaemonSet", "Job"):
        app = match.group("app") if match else re.sub(r"-[a-z0-9]{5}$", "", name)
        return app, app, None
    return name, None, None


def _container_specs(app: str, namespace: str, count: int, image: str | None) -> list[JsonObject]:
    specs: list[JsonObject] = []
    for index in range(count):
        if index == 0:
            name = app
            container_image = image or f"registry.example.com/{namespace}/{app}:1.{sha_bytes(app)[0] % 20}.0"
            requests, limits = {"cpu": "100m", "memory": "128Mi"}, {"cpu": "500m", "memory": "256Mi"}
        else:
            sidecar = _SIDECARS[index - 1] if index <= len(_SIDECARS) else (f"sidecar-{index}", "busybox:1.36")
            name, container_image = sidecar
            requests, limits = {"cpu": "10m", "memory": "32Mi"}, {"cpu": "100m", "memory": "64Mi"}
        spec: JsonObject = {
            "name": name,
            "image": container_image,
            "ports": [{"name": "http", "containerPort": 8080 + index, "protocol": "TCP"}],
            "resources": {"limits": limits, "requests": requests},
            "volumeMounts": [
                {
                    "name": f"kube-api-access-{safe_id(5, namespace, app)}",
                    "readOnly": True,
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                }
            ],
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
        }
        if index == 0:
            probe = {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "timeoutSeconds": 1}
            spec["livenessProbe"] = {**probe, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
            spec["readinessProbe"] = {**probe, "periodSeconds": 5, "successThreshold": 1, "failureThreshold": 3}
        specs.append(spec)
    return specs


def _container_id(*parts: str) -> str:
    return "containerd://" + hex_id(64, "container", *parts)


def _terminated(reason: str, started: datetime, finished: datetime, container_id: str) -> JsonObject:
    state: JsonObject = {"exitCode": _EXIT_CODES.get(reason, 1), "reason": reason}
    if reason == "ContainerStatusUnknown":
        state["exitCode"] = 137
        state["message"] = "The container could not be located when the pod was terminated"
    state.update({"startedAt": k8s_time(started), "finishedAt": k8s_time(finished), "containerID": container_id})
    return state


def waiting_state(reason: str, image: str, container: str, pod: str, namespace: str, uid: str) -> JsonObject:
    messages = {
        "CrashLoopBackOff": f"back-off 5m0s restarting failed container={container} pod={pod}_{namespace}({uid})",
        "ImagePullBackOff": f'Back-off pulling image "{image}"',
        "ErrImagePull": (
            f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
            f'failed to resolve reference "{image}": {image}: not found'
        ),
        "CreateContainerConfigError": f'secret "{container}-credentials" not found',
    }
    state: JsonObject = {"reason": reason}
    if reason in messages:
        state["message"] = messages[reason]
    return state


@dataclass(frozen=True)
class _PodShape:
    """Everything :func:`make_pod` decides before it writes the status."""

    name: str
    namespace: str
    uid: str
    phase: str
    node: str | None
    created: datetime
    waiting_reason: str | None
    terminated_reason: str | None
    restarts: int
    ready: bool


def _container_status(shape: _PodShape, spec: JsonObject, first: bool) -> JsonObject:
    """One containerStatuses entry; the waiting/terminated reasons apply to the first (app) container."""
    name, image = spec["name"], spec["image"]
    started = shape.created + timedelta(seconds=8)
    container_id = _container_id(shape.namespace, shape.name, name, str(shape.restarts))
    image_id = f"{image.rsplit(':', 1)[0]}@sha256:{hex_id(64, 'image', image)}"
    status: JsonObject = {"name": name, "state": {}, "lastState": {}, "ready": False, "restartCount": 0}
    status.update({"image": image, "imageID": image_id, "containerID": container_id, "started": False})
    waiting_reason = shape.waiting_reason if first else None
    terminated_reason = shape.terminated_reason if first else None

    if shape.phase == "Pending":
        # Nothing ever ran: no container ID, no image ID yet.
        reason = waiting_reason or "ContainerCreating"
        status["state"] = {"waiting": waiting_state(reason, image, name, shape.name, shape.namespace, shape.uid)}
        status["imageID"] = ""
        del status["containerID"]
    elif shape.phase in ("Succeeded", "Failed"):
        if shape.phase == "Succeeded":
            reason = "Completed"
        elif shape.terminated_reason == "Evicted":
            reason = "ContainerStatusUnknown"  # what the kubelet reports for containers of an evicted pod
        else:
            reason = terminated_reason or "Error"
        finished = started + timedelta(minutes=3)
        status["state"] = {"terminated": _terminated(reason, started, finished, container_id)}
        status["restartCount"] = shape.restarts if first else 0
    elif waiting_reason:
        restarts = shape.restarts or (3 if waiting_reason == "CrashLoopBackOff" else 0)
        status["restartCount"] = restarts
        status["state"] = {
            "waiting": waiting_state(waiting_reason, image, name, shape.name, shape.namespace, shape.uid)
        }
        if restarts:
            last = started + timedelta(minutes=restarts)
            previous_id = _container_id(shape.namespace, shape.name, name, str(restarts - 1))
            status["lastState"] = {
                "terminated": _terminated(terminated_reason or "Error", last, last + timedelta(seconds=20), previous_id)
            }
    else:
        restarts = shape.restarts or (1 if terminated_reason else 0)
        status["restartCount"] = restarts
        running_since = started + timedelta(minutes=restarts)
        status["state"] = {"running": {"startedAt": k8s_time(running_since)}}
        status["ready"] = shape.ready or not first
        status["started"] = True
        if restarts:
            previous_id = _container_id(shape.namespace, shape.name, name, str(restarts - 1))
            finished = running_since - timedelta(seconds=10)
            status["lastState"] = {
                "terminated": _terminated(terminated_reason or "Error", started, finished, previous_id)
            }
    status["volumeMounts"] = [
        {
            "name": mount["name"],
            "mountPath": mount["mountPath"],
            "readOnly": True,
            "recursiveReadOnly": "Disabled",
        }
        for mount in spec["volumeMounts"]
    ]
    return status


def _conditions(shape: _PodShape, statuses: list[JsonObject]) -> list[JsonObject]:
    at = k8s_time(shape.created + timedelta(seconds=2))
    ready_at = k8s_time(shape.created + timedelta(seconds=12))

    def condition(kind: str, ok: bool, when: str, reason: str | None = None, message: str | None = None) -> JsonObject:
        entry: JsonObject = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None}
        entry["lastTransitionTime"] = when
        if reason:
            entry["reason"] = reason
        if message:
            entry["message"] = message
        return entry

    if shape.node is None:
        message = (
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: "
            "3 No preemption victims found for incoming pod."
        )
        return [condition("PodScheduled", False, at, "Unschedulable", message)]
    unready = [status["name"] for status in statuses if not status["ready"]]
    terminal = shape.phase in ("Succeeded", "Failed")
    sandbox = shape.phase != "Pending" or (shape.waiting_reason or "ContainerCreating") != "ContainerCreating"
    if terminal:
        not_ready_reason, not_ready_message = "PodCompleted", None
    else:
        not_ready_reason = "ContainersNotReady"
        not_ready_message = f"containers with unready status: [{' '.join(unready)}]"
    conditions = [
        condition("PodReadyToStartContainers", sandbox and not terminal, ready_at),
        condition("Initialized", True, at, "PodCompleted" if terminal else None),
        condition("Ready", not unready, ready_at, None if not unready else not_ready_reason, not_ready_message),
        condition(
            "ContainersReady", not unready, ready_at, None if not unready else not_ready_reason, not_ready_message
        ),
        condition("PodScheduled", True, k8s_time(shape.created)),
    ]
    if shape.terminated_reason == "Evicted":
        conditions.insert(0, condition("DisruptionTarget", True, ready_at, "TerminationByKubelet", "memory pressure"))
    return conditions


def make_pod(
    name: str,
    namespace: str,
    phase: str = "Running",
    *,
    containers: int = 2,
    waiting_reason: str | None = None,
    terminated_reason: str | None = None,
    restarts: int = 0,
    ready: bool = True,
    node: str | None = "node-1",
    created: datetime | None = None,
    labels: Mapping[str, str] | None = None,
    owner_kind: str | None = "ReplicaSet",
    image: str | None = None,
    with_managed_fields: bool = True,
) -> JsonObject:
    """A pod shaped like ``kubectl get pod -o json`` output on a containerd node.

    ``waiting_reason``/``terminated_reason`` apply to the first (app) container, the
    others (sidecars) are healthy for the phase:

    * Running + ``waiting_reason="CrashLoopBackOff"``: state.waiting CrashLoopBackOff,
      lastState.terminated with ``terminated_reason`` (default ``Error``; ``OOMKilled``
      exits 137), restartCount ``restarts`` (3 when left at 0), not ready.
    * Running + ``terminated_reason`` alone: running again after an earlier crash.
    * Running + ``ready=False``: running but failing its readiness probe.
    * Pending: no startTime, containers waiting in ``waiting_reason`` (default
      ``ContainerCreating``; ``ImagePullBackOff``/``ErrImagePull`` too); ``node=None``
      makes it unschedulable (no node, no container statuses).
    * Succeeded/Failed: all containers terminated (``Completed``/``terminated_reason``
      or ``Error``); Failed + ``terminated_reason="Evicted"`` is a kubelet eviction.

    Names, uids, IPs and container IDs derive from the name, so they are stable.
    """
    created = created or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    uid = stable_uid("pod", namespace, name)
    app, owner_name, template_hash = _owner(name, namespace, owner_kind)
    shape = _PodShape(name, namespace, uid, phase, node, created, waiting_reason, terminated_reason, restarts, ready)

    pod_labels = dict(labels) if labels is not None else {"app": app}
    if template_hash and "pod-template-hash" not in pod_labels:
        pod_labels["pod-template-hash"] = template_hash
    metadata: JsonObject = {"name": name}
    if owner_kind in ("ReplicaSet", "DaemonSet", "Job") and "-" in name:
        metadata["generateName"] = name.removesuffix(name.rsplit("-", 1)[-1])
    metadata.update({"namespace": namespace, "uid": uid, "resourceVersion": "1"})
    metadata["creationTimestamp"] = k8s_time(created)
    metadata["labels"] = pod_labels
    metadata["annotations"] = {"kubectl.kubernetes.io/default-container": app}
    if owner_kind and owner_name:
        metadata["ownerReferences"] = [
            {
                "apiVersion": OWNER_API_VERSIONS.get(owner_kind, "apps/v1"),
                "kind": owner_kind,
                "name": owner_name,
                "uid": stable_uid(owner_kind, namespace, owner_name),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]

    container_specs = _container_specs(app, namespace, max(containers, 1), image)
    token_volume = container_specs[0]["volumeMounts"][0]["name"]
    spec: JsonObject = {
        "volumes": [
            {
                "name": token_volume,
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                    }
                                ]
                            }
                        },
                    ],
                    "defaultMode": 420,
                },
            }
        ],
        "containers": container_specs,
        "restartPolicy": "Never" if owner_kind == "Job" else "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": "default",
        "serviceAccount": "default",
    }
    if node is not None:
        spec["nodeName"] = node
    spec.update(
        {
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        }
    )

    statuses = [] if node is None else [_container_status(shape, c, i == 0) for i, c in enumerate(container_specs)]
    status: JsonObject = {"phase": phase, "conditions": _conditions(shape, statuses)}
    if phase == "Failed" and terminated_reason == "Evicted":
        status["message"] = (
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki. "
            f"Container {app} was using 1048576Ki, request is 128Mi, has larger consumption of memory."
        )
        status["reason"] = "Evicted"
    if node is not None:
        host_ip = stable_ip("10.0", node)
        status["hostIP"] = host_ip
        status["hostIPs"] = [{"ip": host_ip}]
        sandbox = phase != "Pending" or (waiting_reason or "ContainerCreating") != "ContainerCreating"
        if sandbox:
            pod_ip = stable_ip("10.244", namespace, name)
            status["podIP"] = pod_ip
            status["podIPs"] = [{"ip": pod_ip}]
        if phase != "Pending":
            status["startTime"] = k8s_time(created + timedelta(seconds=2))
        status["containerStatuses"] = statuses
    status["qosClass"] = "Burstable"

    pod: JsonObject = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}
    if with_managed_fields:
        metadata["managedFields"] = managed_fields(pod, created)
    return pod
