"""A Kubernetes API server stand-in that speaks the real REST wire protocol.

Tests drive it with the real ``kubernetes`` client through a kubeconfig it writes
(:meth:`KubeApiServer.write_kubeconfig`, :meth:`KubeApiServer.api_client`), so the
code under test runs unchanged: same URLs, same JSON, same ``Status`` errors.

What it copies from the real API server, because client code depends on it:

* Bearer-token authentication: anything else gets ``401`` with a ``Status`` body.
* Lists (pods, events, custom objects) are ordered by etcd key (``namespace/name``)
  and paged with ``limit``/``continue`` exactly like the API server:
  ``metadata.continue``, ``metadata.remainingItemCount`` (only without selectors),
  ``metadata.resourceVersion``, and an opaque continue token. Later pages are served
  from the snapshot the first page came from (a consistent list). Tokens older than
  :meth:`KubeApiServer.expire_continue_tokens` (or than the last few snapshots, like
  etcd compaction) answer ``410 Expired`` with a fresh "inconsistent" token in
  ``metadata.continue``, as the API server does.
* Items of built-in lists carry no ``kind``/``apiVersion``; custom object lists do
  (unstructured objects keep them, with keys sorted like Go maps).
* ``fieldSelector`` with the fields the API server supports for pods and events
  (``=``, ``==``, ``!=``; unsupported fields answer ``400``), equality- and set-based
  ``labelSelector``.
* Pod logs: ``container`` is required when a pod has several containers, containers
  that never started answer ``400 ... is waiting to start``, ``tailLines`` is applied
  before ``limitBytes``, ``previous=true`` needs a terminated previous instance.
* Custom objects: create (``409 AlreadyExists``), get, list, merge/JSON patch
  (``415`` for strategic merge patch, as for real custom resources), delete, and a
  ``/status`` subresource. With the status subresource on (the default, as for most
  CRDs) create and patch of the main resource ignore ``.status`` and ``/status``
  changes only ``.status``; ``metadata.generation`` grows on spec changes only.

What it leaves out: watch, protobuf, server-side apply, PUT, admission, defaulting
and validation of built-in objects, and ``timestamps`` on logs.

Faults (:meth:`KubeApiServer.fail`, :meth:`KubeApiServer.delay`) meet the client's
own retries: urllib3, under the ``kubernetes`` client, retries a GET up to three
times after a read timeout (so one slow answer is invisible; after four the call
raises ``urllib3.exceptions.MaxRetryError``, not ``ApiException``) and after a
413/429/503 that carries ``Retry-After``. Without ``Retry-After`` a 429 surfaces.

Run ``python -m devstack.kube_api --port P --pods N --token T`` to serve N generated
pods from another process; it prints ``ready http://127.0.0.1:P`` once it listens.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import contextlib
import copy
import dataclasses
import gc
import hashlib
import json
import logging
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = [
    "CONTINUE_EXPIRED",
    "CONTINUE_INCONSISTENT",
    "DEFAULT_TOKEN",
    "DEFAULT_USER",
    "KubeApiServer",
    "RecordedRequest",
    "generate_pods",
    "json_patch",
    "main",
    "make_event",
    "make_pod",
    "merge_patch",
    "pod_events",
    "status_body",
]

log = logging.getLogger("devstack.kube_api")

JsonObject = dict[str, Any]

DEFAULT_TOKEN = "devstack-token"  # noqa: S105 - a stand-in's test credential, not a secret
DEFAULT_USER = "system:serviceaccount:whooper:pod-exporter"

# How many list snapshots a collection keeps for continue tokens. Older tokens answer
# 410 Expired, as tokens do on a real cluster once etcd compacted their revision.
SNAPSHOTS_KEPT = 16


# --------------------------------------------------------------------------------------
# Realistic objects
# --------------------------------------------------------------------------------------

# Kubernetes builds generated name suffixes from this alphabet (no vowels, no 0/1/3).
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_REPLICASET_POD = re.compile(r"^(?P<app>.+?)-(?P<hash>[bcdfghjklmnpqrstvwxz2456789]{6,10})-(?P<suffix>[a-z0-9]{5})$")
_SIDECARS = (
    ("log-shipper", "docker.io/fluent/fluent-bit:3.0.7"),
    ("metrics-exporter", "quay.io/prometheus/statsd-exporter:v0.26.1"),
)
_EXIT_CODES = {"OOMKilled": 137, "Error": 1, "Completed": 0, "ContainerCannotRun": 128, "StartError": 128}
_OWNER_API_VERSIONS = {"ReplicaSet": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "Job": "batch/v1"}
_KIND_API_VERSIONS = {
    **_OWNER_API_VERSIONS,
    "Deployment": "apps/v1",
    "CronJob": "batch/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
}


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("/".join(parts).encode()).digest()


def _hex(length: int, *parts: str) -> str:
    """Deterministic hex, so generated objects are the same on every run."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _safe(length: int, *parts: str) -> str:
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in _digest(*parts)[:length])


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def _ts(moment: datetime) -> str:
    """RFC 3339 in whole seconds, as Kubernetes writes timestamps (isoformat is twice as fast as strftime)."""
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _ip(prefix: str, *parts: str) -> str:
    digest = _digest(*parts)
    return f"{prefix}.{digest[0]}.{digest[1] % 254 + 1}"


def _owner(name: str, namespace: str, owner_kind: str | None) -> tuple[str, str | None, str | None]:
    """(app name, owner name, pod-template-hash) as controllers name their pods."""
    match = _REPLICASET_POD.match(name)
    if owner_kind == "ReplicaSet":
        app = match.group("app") if match else name
        template_hash = match.group("hash") if match else _safe(10, namespace, app)
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
            container_image = image or f"registry.example.com/{namespace}/{app}:1.{_digest(app)[0] % 20}.0"
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
                    "name": f"kube-api-access-{_safe(5, namespace, app)}",
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
    return "containerd://" + _hex(64, "container", *parts)


def _terminated(reason: str, started: datetime, finished: datetime, container_id: str) -> JsonObject:
    state: JsonObject = {"exitCode": _EXIT_CODES.get(reason, 1), "reason": reason}
    if reason == "ContainerStatusUnknown":
        state["exitCode"] = 137
        state["message"] = "The container could not be located when the pod was terminated"
    state.update({"startedAt": _ts(started), "finishedAt": _ts(finished), "containerID": container_id})
    return state


def _waiting(reason: str, image: str, container: str, pod: str, namespace: str, uid: str) -> JsonObject:
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
    image_id = f"{image.rsplit(':', 1)[0]}@sha256:{_hex(64, 'image', image)}"
    status: JsonObject = {"name": name, "state": {}, "lastState": {}, "ready": False, "restartCount": 0}
    status.update({"image": image, "imageID": image_id, "containerID": container_id, "started": False})
    waiting_reason = shape.waiting_reason if first else None
    terminated_reason = shape.terminated_reason if first else None

    if shape.phase == "Pending":
        # Nothing ever ran: no container ID, no image ID yet.
        reason = waiting_reason or "ContainerCreating"
        status["state"] = {"waiting": _waiting(reason, image, name, shape.name, shape.namespace, shape.uid)}
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
        status["state"] = {"waiting": _waiting(waiting_reason, image, name, shape.name, shape.namespace, shape.uid)}
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
        status["state"] = {"running": {"startedAt": _ts(running_since)}}
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
    at = _ts(shape.created + timedelta(seconds=2))
    ready_at = _ts(shape.created + timedelta(seconds=12))

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
        condition("PodScheduled", True, _ts(shape.created)),
    ]
    if shape.terminated_reason == "Evicted":
        conditions.insert(0, condition("DisruptionTarget", True, ready_at, "TerminationByKubelet", "memory pressure"))
    return conditions


def _managed_fields(pod: JsonObject, created: datetime) -> list[JsonObject]:
    """The two entries a controller-made pod carries: the controller's and the kubelet's."""
    metadata, spec, status = pod["metadata"], pod["spec"], pod["status"]
    owners = metadata.get("ownerReferences", [])
    controller_fields: JsonObject = {
        "f:metadata": {
            "f:generateName": {},
            "f:labels": {".": {}, **{f"f:{key}": {} for key in metadata.get("labels", {})}},
            "f:ownerReferences": {".": {}, **{f'k:{{"uid":"{o["uid"]}"}}': {} for o in owners}},
        },
        "f:spec": {
            "f:containers": {
                f'k:{{"name":"{c["name"]}"}}': {
                    ".": {},
                    "f:image": {},
                    "f:imagePullPolicy": {},
                    "f:name": {},
                    "f:ports": {
                        ".": {},
                        f'k:{{"containerPort":{c["ports"][0]["containerPort"]},"protocol":"TCP"}}': {},
                    },
                    "f:resources": {".": {}, "f:limits": {".": {}, "f:cpu": {}, "f:memory": {}}},
                    "f:terminationMessagePath": {},
                    "f:terminationMessagePolicy": {},
                }
                for c in spec["containers"]
            },
            "f:dnsPolicy": {},
            "f:enableServiceLinks": {},
            "f:restartPolicy": {},
            "f:schedulerName": {},
            "f:securityContext": {},
            "f:terminationGracePeriodSeconds": {},
        },
    }
    if not owners:
        del controller_fields["f:metadata"]["f:ownerReferences"]
    kubelet_fields: JsonObject = {
        "f:status": {
            "f:conditions": {
                f'k:{{"type":"{c["type"]}"}}': {
                    ".": {},
                    "f:lastProbeTime": {},
                    "f:lastTransitionTime": {},
                    "f:status": {},
                    "f:type": {},
                }
                for c in status["conditions"]
            },
            "f:containerStatuses": {},
            "f:hostIP": {},
            "f:hostIPs": {},
            "f:phase": {},
            "f:podIP": {},
            "f:podIPs": {
                ".": {},
                **{f'k:{{"ip":"{ip["ip"]}"}}': {".": {}, "f:ip": {}} for ip in status.get("podIPs", [])},
            },
            "f:startTime": {},
        }
    }
    at = _ts(created + timedelta(seconds=12))
    return [
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "v1",
            "time": _ts(created),
            "fieldsType": "FieldsV1",
            "fieldsV1": controller_fields,
        },
        {
            "manager": "kubelet",
            "operation": "Update",
            "apiVersion": "v1",
            "time": at,
            "fieldsType": "FieldsV1",
            "fieldsV1": kubelet_fields,
            "subresource": "status",
        },
    ]


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
    uid = _uid("pod", namespace, name)
    app, owner_name, template_hash = _owner(name, namespace, owner_kind)
    shape = _PodShape(name, namespace, uid, phase, node, created, waiting_reason, terminated_reason, restarts, ready)

    pod_labels = dict(labels) if labels is not None else {"app": app}
    if template_hash and "pod-template-hash" not in pod_labels:
        pod_labels["pod-template-hash"] = template_hash
    metadata: JsonObject = {"name": name}
    if owner_kind in ("ReplicaSet", "DaemonSet", "Job") and "-" in name:
        metadata["generateName"] = name.removesuffix(name.rsplit("-", 1)[-1])
    metadata.update({"namespace": namespace, "uid": uid, "resourceVersion": "1"})
    metadata["creationTimestamp"] = _ts(created)
    metadata["labels"] = pod_labels
    metadata["annotations"] = {"kubectl.kubernetes.io/default-container": app}
    if owner_kind and owner_name:
        metadata["ownerReferences"] = [
            {
                "apiVersion": _OWNER_API_VERSIONS.get(owner_kind, "apps/v1"),
                "kind": owner_kind,
                "name": owner_name,
                "uid": _uid(owner_kind, namespace, owner_name),
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
        host_ip = _ip("10.0", node)
        status["hostIP"] = host_ip
        status["hostIPs"] = [{"ip": host_ip}]
        sandbox = phase != "Pending" or (waiting_reason or "ContainerCreating") != "ContainerCreating"
        if sandbox:
            pod_ip = _ip("10.244", namespace, name)
            status["podIP"] = pod_ip
            status["podIPs"] = [{"ip": pod_ip}]
        if phase != "Pending":
            status["startTime"] = _ts(created + timedelta(seconds=2))
        status["containerStatuses"] = statuses
    status["qosClass"] = "Burstable"

    pod: JsonObject = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}
    if with_managed_fields:
        metadata["managedFields"] = _managed_fields(pod, created)
    return pod


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
    name = name or f"{involved_name}.{_hex(16, namespace, involved_name, reason, message)}"
    involved: JsonObject = {"kind": kind, "namespace": namespace, "name": involved_name}
    involved["uid"] = involved_uid or _uid(kind.lower(), namespace, involved_name)
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
            "uid": _uid("event", namespace, name),
            "resourceVersion": "1",
            "creationTimestamp": _ts(first_seen),
        },
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": _ts(first_seen),
        "lastTimestamp": _ts(last_seen),
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
            pull_error = _waiting("ErrImagePull", image, cname, name, namespace, uid)["message"]
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


# Mix of pods the CLI and the benchmarks serve: (weight, phase, make_pod keyword arguments).
_POD_MIX: tuple[tuple[int, str, JsonObject], ...] = (
    (80, "Running", {}),
    (4, "Running", {"waiting_reason": "CrashLoopBackOff", "terminated_reason": "Error", "restarts": 7}),
    (2, "Running", {"waiting_reason": "CrashLoopBackOff", "terminated_reason": "OOMKilled", "restarts": 4}),
    (2, "Running", {"ready": False}),
    (1, "Running", {"terminated_reason": "OOMKilled", "restarts": 1}),
    (3, "Pending", {}),
    (2, "Pending", {"waiting_reason": "ImagePullBackOff"}),
    (1, "Pending", {"waiting_reason": "ErrImagePull"}),
    (1, "Pending", {"node": None}),
    (2, "Succeeded", {"owner_kind": "Job"}),
    (1, "Failed", {"owner_kind": "Job", "terminated_reason": "Error"}),
    (1, "Failed", {"terminated_reason": "Evicted"}),
)
_APPS = ("checkout", "cart", "payments", "search", "catalog", "auth", "notifier", "ingest", "reports", "gateway")


def _unique_suffix(index: int) -> str:
    """A 5-character name suffix that differs for every index below 27**5 (a bijection, so no collisions)."""
    number = (index * 7919 + 12345) % len(_SAFE_ALPHABET) ** 5
    digits = []
    for _ in range(5):
        number, digit = divmod(number, len(_SAFE_ALPHABET))
        digits.append(_SAFE_ALPHABET[digit])
    return "".join(digits)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while creating pods in bulk.

    Building and serialising a pod allocates thousands of containers, which triggers
    collections that walk every live object for nothing; pausing roughly halves the
    time to store 50,000 pods. The previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def generate_pods(
    count: int, *, namespaces: int = 20, nodes: int = 30, with_managed_fields: bool = True
) -> Iterator[JsonObject]:
    """``count`` realistic pods spread over namespaces and nodes, mostly healthy, some in trouble.

    Lazy, so ``server.set_pods(generate_pods(50_000))`` never holds all the dicts at once
    (they take about four times the memory of their JSON). Deterministic apart from
    timestamps: the same ``count`` gives the same names, phases and reasons.
    """
    slots = [(phase, kwargs) for weight, phase, kwargs in _POD_MIX for _ in range(weight)]
    now = datetime.now(UTC).replace(microsecond=0)
    for index in range(count):
        yield _generated_pod(index, slots, now, namespaces, nodes, with_managed_fields)


def _generated_pod(
    index: int,
    slots: Sequence[tuple[str, JsonObject]],
    now: datetime,
    namespaces: int,
    nodes: int,
    with_managed_fields: bool,
) -> JsonObject:
    phase, kwargs = slots[(index * 37) % len(slots)]  # 37 is coprime with 100 slots: every mix in turn
    namespace = f"team-{index % namespaces:02d}"
    app = _APPS[(index // namespaces) % len(_APPS)]
    suffix = _unique_suffix(index)
    if kwargs.get("owner_kind") == "Job":
        name = f"{app}-job-{index}-{suffix}"
    else:
        name = f"{app}-{_safe(10, namespace, app)}-{suffix}"
    options: JsonObject = {"node": f"node-{index % nodes:02d}", **kwargs}
    created = now - timedelta(minutes=10 + index % 5000)
    return make_pod(name, namespace, phase, created=created, with_managed_fields=with_managed_fields, **options)


# --------------------------------------------------------------------------------------
# Wire protocol pieces: Status bodies, continue tokens, selectors, patches
# --------------------------------------------------------------------------------------

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter."
)
CONTINUE_INCONSISTENT = (
    CONTINUE_EXPIRED[:-1] + ", or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "injected failure"


def status_body(
    code: int,
    message: str,
    reason: str | None = None,
    *,
    details: JsonObject | None = None,
    metadata: JsonObject | None = None,
) -> JsonObject:
    """A ``Status`` object as the API server sends with every error."""
    body: JsonObject = {"kind": "Status", "apiVersion": "v1", "metadata": metadata or {}, "status": "Failure"}
    body["message"] = message
    body["reason"] = _REASONS.get(code, "") if reason is None else reason
    if details:
        body["details"] = details
    body["code"] = code
    return body


class _StatusError(Exception):
    """Raised while handling a request to answer it with a ``Status``."""

    def __init__(self, code: int, message: str, reason: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.body = status_body(code, message, reason, **extra)
        self.code = code


def _encode_continue(revision: int, start: str) -> str:
    # Same content as the API server's token: base64 of {"v", "rv", "start"}.
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = json.loads(raw)
        revision, start = decoded["rv"], decoded["start"]
        if decoded.get("v") != "meta.k8s.io/v1" or not isinstance(revision, int) or not isinstance(start, str):
            raise ValueError("unexpected content")
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise _StatusError(400, f"continue key is not valid: {error}") from error
    return revision, start


_FIELD_TERM = re.compile(r"^\s*([\w.]+)\s*(==|!=|=)\s*(.*?)\s*$")
_LABEL_TERM = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<absent>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|!=|=)\s*(?P<value>[\w.-]*)|\s+(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?)"
    r"\s*(?:,|$)"
)


@dataclass(frozen=True)
class _LabelTerm:
    """One requirement of a label selector."""

    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.key)
        if self.operator == "exists":
            return value is not None
        if self.operator == "!":
            return value is None
        if self.operator in ("=", "in"):
            return value in self.values
        return value not in self.values  # "!=" and "notin" also match objects without the label


@dataclass(frozen=True)
class _Selector:
    """A parsed field and label selector: all its terms must hold."""

    fields: tuple[tuple[str, str, str], ...] = ()  # (field, operator, value)
    labels: tuple[_LabelTerm, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.fields and not self.labels

    def matches(self, stored: _Stored) -> bool:
        for name, operator, value in self.fields:
            if (stored.fields.get(name, "") == value) != (operator != "!="):
                return False
        return all(term.matches(stored.labels) for term in self.labels)


def _parse_selectors(field_selector: str | None, label_selector: str | None, supported: Iterable[str]) -> _Selector:
    allowed = set(supported)
    fields = []
    for term in filter(None, (field_selector or "").split(",")):
        match = _FIELD_TERM.match(term)
        if not match:
            raise _StatusError(400, f"invalid selector: '{field_selector}'; can't understand '{term}'")
        name, operator, value = match.groups()
        if name not in allowed:
            raise _StatusError(400, f"field label not supported: {name}")
        fields.append((name, operator, value))
    return _Selector(tuple(fields), tuple(_parse_labels(label_selector or "")))


def _parse_labels(selector: str) -> list[_LabelTerm]:
    terms: list[_LabelTerm] = []
    position = 0
    while position < len(selector):
        match = _LABEL_TERM.match(selector, position)
        if not match or match.end() == position:
            raise _StatusError(400, f"unable to parse requirement: found '{selector[position:]}'")
        position = match.end()
        if match["absent"]:
            terms.append(_LabelTerm(match["absent"], "!"))
        elif match["set"]:
            values = frozenset(value.strip() for value in match["values"].split(","))
            terms.append(_LabelTerm(match["key"], match["set"], values))
        elif match["op"]:
            operator = "!=" if match["op"] == "!=" else "="
            terms.append(_LabelTerm(match["key"], operator, frozenset([match["value"]])))
        else:
            terms.append(_LabelTerm(match["key"], "exists"))
    return terms


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (``application/merge-patch+json``)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class _PatchError(ValueError):
    pass


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _PatchError(f'JSON pointer must start with "/": {path!r}')
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _index(container: list[Any], part: str, *, for_add: bool = False) -> int:
    if for_add and part == "-":
        return len(container)
    if not part.isdigit():
        raise _PatchError(f"invalid array index {part!r}")
    position = int(part)
    if position > len(container) or (position == len(container) and not for_add):
        raise _PatchError(f"array index {position} out of bounds")
    return position


def _resolve(document: Any, tokens: list[str]) -> Any:
    for token in tokens:
        if isinstance(document, dict):
            if token not in document:
                raise _PatchError(f"missing value at /{'/'.join(tokens)}")
            document = document[token]
        elif isinstance(document, list):
            document = document[_index(document, token)]
        else:
            raise _PatchError(f"cannot descend into a scalar at /{'/'.join(tokens)}")
    return document


def _add(document: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _resolve(document, tokens[:-1])
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, tokens[-1], for_add=True), value)
    else:
        raise _PatchError("cannot add to a scalar")
    return document


def _remove(document: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise _PatchError("cannot remove the whole document")
    parent = _resolve(document, tokens[:-1])
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise _PatchError(f"unable to remove nonexistent key: {tokens[-1]}: missing value")
        return parent.pop(tokens[-1])
    if isinstance(parent, list):
        return parent.pop(_index(parent, tokens[-1]))
    raise _PatchError("cannot remove from a scalar")


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch (``application/json-patch+json``) on a copy of ``document``."""
    if not isinstance(operations, list):
        raise _PatchError("a JSON patch must be a list of operations")
    result = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "path" not in operation:
            raise _PatchError(f"invalid operation {operation!r}")
        op, tokens = operation.get("op"), _pointer(operation["path"])
        if op == "add":
            result = _add(result, tokens, copy.deepcopy(operation["value"]))
        elif op == "remove":
            _remove(result, tokens)
        elif op == "replace":
            _resolve(result, tokens)  # unlike add, replace needs an existing value
            if tokens:
                _remove(result, tokens)
            result = _add(result, tokens, copy.deepcopy(operation["value"]))
        elif op in ("move", "copy"):
            source = _pointer(operation["from"])
            value = _remove(result, source) if op == "move" else copy.deepcopy(_resolve(result, source))
            result = _add(result, tokens, value)
        elif op == "test":
            if _resolve(result, tokens) != operation.get("value"):
                raise _PatchError(f"testing value /{'/'.join(tokens)} failed: test failed")
        else:
            raise _PatchError(f"Unexpected kind: {op}")
    return result


# --------------------------------------------------------------------------------------
# Storage: objects in etcd key order, with list snapshots for paging
# --------------------------------------------------------------------------------------


def _dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys).encode()


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass(frozen=True)
class _ResourceType:
    """What the stand-in knows about one resource: its names and how lists and selectors treat it."""

    group: str  # "" for the core API
    version: str
    plural: str
    kind: str
    # fieldSelector name -> path in the object (the API server supports a fixed set per resource)
    selectable: Mapping[str, str] = field(default_factory=dict)
    custom: bool = False  # custom objects keep kind/apiVersion in list items and sort their keys
    status_subresource: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``pods`` or ``widgets.example.com``, as error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_META_FIELDS = {"metadata.name": "metadata.name", "metadata.namespace": "metadata.namespace"}
_PODS = _ResourceType(
    "",
    "v1",
    "pods",
    "Pod",
    {
        **_META_FIELDS,
        **{
            path: path
            for path in (
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.nominatedNodeName",
            )
        },
    },
)
_EVENTS = _ResourceType(
    "",
    "v1",
    "events",
    "Event",
    {
        **_META_FIELDS,
        **{
            path: path
            for path in (
                "involvedObject.kind",
                "involvedObject.namespace",
                "involvedObject.name",
                "involvedObject.uid",
                "involvedObject.apiVersion",
                "involvedObject.resourceVersion",
                "involvedObject.fieldPath",
                "reason",
                "reportingComponent",
                "type",
            )
        },
        "source": "source.component",
    },
)


@dataclass(frozen=True)
class _Stored:
    key: str  # "namespace/name": the order etcd lists in
    item: bytes  # the JSON as it appears in a list's items
    fields: Mapping[str, str]  # values for field selectors
    labels: Mapping[str, str]


@dataclass(frozen=True)
class _Snapshot:
    revision: int
    keys: list[str]
    items: list[_Stored]


@dataclass
class _Page:
    items: list[_Stored]
    next_start: str | None  # relative key to continue after, None on the last page
    remaining: int | None


class _Revisions:
    """The cluster-wide resourceVersion counter (etcd's revision), shared by all collections."""

    def __init__(self, start: int = 1000) -> None:
        self.current = start

    def next(self) -> int:
        self.current += 1
        return self.current


class _Collection:
    """The stored objects of one resource. Not thread-safe: the server holds its lock around every call."""

    def __init__(self, rtype: _ResourceType, revisions: _Revisions) -> None:
        self.rtype = rtype
        self._revisions = revisions
        self.kind_guessed = False  # True while no CRD or object has told the kind
        self._objects: dict[str, _Stored] = {}
        self._current: _Snapshot | None = None
        self._history: OrderedDict[int, _Snapshot] = OrderedDict()

    def __len__(self) -> int:
        return len(self._objects)

    def put(self, obj: Mapping[str, Any]) -> _Stored:
        """Store (or replace) an object; it gets the next resourceVersion."""
        revision = self._revisions.next()
        metadata = {**obj.get("metadata", {}), "resourceVersion": str(revision)}
        key = f"{metadata.get('namespace', '')}/{metadata['name']}"
        if self.rtype.custom:
            body = {**obj, "metadata": metadata}
            item = _dumps(body, sort_keys=True)
        else:
            # Built-in list items carry no kind/apiVersion on the wire.
            body = {
                "metadata": metadata,
                **{k: v for k, v in obj.items() if k not in ("kind", "apiVersion", "metadata")},
            }
            item = _dumps(body)
        fields = {name: _field_value(body, path) for name, path in self.rtype.selectable.items()}
        stored = _Stored(key, item, fields, dict(metadata.get("labels") or {}))
        self._objects[key] = stored
        self._current = None
        return stored

    def put_many(self, objects: Iterable[Mapping[str, Any]]) -> None:
        for obj in objects:
            self.put(obj)

    def remove(self, key: str) -> _Stored | None:
        stored = self._objects.pop(key, None)
        if stored is not None:
            self._revisions.next()
            self._current = None
        return stored

    def clear(self) -> None:
        self._objects.clear()
        self._revisions.next()
        self._current = None

    def get(self, key: str) -> _Stored | None:
        return self._objects.get(key)

    def full(self, stored: _Stored) -> bytes:
        """The object as a single GET returns it: with kind and apiVersion."""
        if self.rtype.custom:
            return stored.item
        return (
            b'{"kind":"%s","apiVersion":"%s",' % (self.rtype.kind.encode(), self.rtype.api_version.encode())
            + stored.item[1:]
        )

    def snapshot(self) -> _Snapshot:
        if self._current is None:
            keys = sorted(self._objects)
            self._current = _Snapshot(self._revisions.current, keys, [self._objects[k] for k in keys])
            self._history[self._current.revision] = self._current
            while len(self._history) > SNAPSHOTS_KEPT:
                self._history.popitem(last=False)
        return self._current

    def snapshot_at(self, revision: int) -> _Snapshot | None:
        return self._history.get(revision)

    def forget_history(self) -> None:
        self._history.clear()
        self._current = None


def _page(snapshot: _Snapshot, prefix: str, start: str, limit: int | None, selector: _Selector) -> _Page:
    """One page of a list, like the API server reads a key range from etcd."""
    keys = snapshot.keys
    low = bisect.bisect_left(keys, prefix + start)
    high = bisect.bisect_left(keys, prefix[:-1] + chr(ord(prefix[-1]) + 1)) if prefix else len(keys)
    if selector.empty:
        end = high if limit is None else min(high, low + limit)
        more = end < high
        last = keys[end - 1] if more else None
        items = snapshot.items[low:end]
        remaining = high - end if more else None
    else:
        items, position = [], low
        while position < high and (limit is None or len(items) < limit):
            if selector.matches(snapshot.items[position]):
                items.append(snapshot.items[position])
            position += 1
        more = position < high
        last = keys[position - 1] if more else None
        remaining = None
    # The token's start is relative to the listed prefix, with a NUL to start after the last key.
    next_start = last[len(prefix) :] + "\x00" if last is not None else None
    return _Page(items, next_start, remaining)


# --------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        """A header, case-insensitively."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def target(self) -> str:
        """Path and query string, which ``path_contains`` matches against."""
        query = "&".join(f"{key}={value}" for key, values in self.query.items() for value in values)
        return f"{self.path}?{query}" if query else self.path


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, value: Any, headers: dict[str, str] | None = None) -> _Response:
        return cls(status, _dumps(value), headers=headers or {})


@dataclass
class _Fault:
    status: int  # 0 for a delay
    seconds: float
    remaining: int
    path_contains: str | None
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class _Faults:
    """Injected failures and delays, each consumed by the next matching requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[_Fault] = []
        self._delays: list[_Fault] = []

    def add_failure(self, fault: _Fault) -> None:
        with self._lock:
            self._failures.append(fault)

    def add_delay(self, fault: _Fault) -> None:
        with self._lock:
            self._delays.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._delays.clear()

    def take_failure(self, target: str) -> _Fault | None:
        return self._take(self._failures, target)

    def take_delay(self, target: str) -> _Fault | None:
        return self._take(self._delays, target)

    def _take(self, faults: list[_Fault], target: str) -> _Fault | None:
        with self._lock:
            for fault in faults:
                if fault.path_contains is None or fault.path_contains in target:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        faults.remove(fault)
                    return fault
        return None


class _HTTPServer(ThreadingHTTPServer):
    """A threaded server that can also cut its open keep-alive connections when stopped."""

    daemon_threads = True  # a handler stuck in a client's slow read must not block exit

    def __init__(self, address: tuple[str, int], app: Callable[[RecordedRequest], _Response]) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        # Without this, pooled client connections would keep talking to a "stopped" server.
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("connection from %s ended: %s", client_address, error)
        else:
            log.exception("error while serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections to the API server
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            body=body,
        )
        try:
            response = self.server.app(request)
        except Exception as error:  # a bug in the stand-in must fail the request visibly, not drop it
            log.exception("stand-in failed on %s %s", self.command, self.path)
            response = _Response(500, f"stand-in error: {error!r}".encode(), "text/plain")
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout in a test); nothing left to answer.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------


def _non_negative(text: str | None, name: str, *, minimum: int) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError as error:
        raise _StatusError(400, f"{name}: Invalid value: {text!r}: must be an integer") from error
    if value < minimum:
        raise _StatusError(422, f"{name}: Invalid value: {value}: must be greater than or equal to {minimum}")
    return value


_CORE = re.compile(
    r"^/api/v1/(?:namespaces/(?P<ns>[^/]+)/)?(?P<resource>pods|events)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?/?$"
)
_CUSTOM = re.compile(
    r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/(?:namespaces/(?P<ns>[^/]+)/)?"
    r"(?P<resource>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?/?$"
)
_VERBS = {"POST": "create", "PATCH": "patch", "DELETE": "delete", "PUT": "update"}


@dataclass(frozen=True)
class _Route:
    verb: str  # the RBAC verb: list, get, create, patch, delete, update
    collection: _Collection
    namespace: str | None
    name: str | None
    subresource: str | None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def not_found(self) -> _StatusError:
        rtype = self.collection.rtype
        details: JsonObject = {
            "name": self.name,
            **({"group": rtype.group} if rtype.group else {}),
            "kind": rtype.plural,
        }
        return _StatusError(404, f'{rtype.qualified} "{self.name}" not found', details=details)


class KubeApiServer:
    """The stand-in API server. Start it, point the ``kubernetes`` client at it, change its state from the test."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        user: str = DEFAULT_USER,
    ) -> None:
        self.token = token
        self.user = user  # the identity that 403 messages name
        self._address = (host, port)
        self._lock = threading.RLock()
        self._revisions = _Revisions()
        self._pods = _Collection(_PODS, self._revisions)
        self._events = _Collection(_EVENTS, self._revisions)
        self._custom: dict[tuple[str, str], _Collection] = {}
        self._logs: dict[tuple[str, str, str | None, bool], str] = {}
        self._faults = _Faults()
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._config_dir: Path | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> KubeApiServer:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _HTTPServer(self._address, self._handle)
        # A short poll interval: shutdown() waits up to one interval, and tests stop a server each.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="kube-api-standin", daemon=True
        )
        self._thread.start()
        log.info("Kubernetes API stand-in at %s", self.url)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in an injected delay
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._config_dir is not None:
            shutil.rmtree(self._config_dir, ignore_errors=True)
            self._config_dir = None

    def __enter__(self) -> KubeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the Kubernetes API stand-in is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- client configuration ---------------------------------------------------------

    def kubeconfig(self, namespace: str = "default") -> JsonObject:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "devstack", "cluster": {"server": self.url}}],
            "users": [{"name": "devstack", "user": {"token": self.token}}],
            "contexts": [
                {"name": "devstack", "context": {"cluster": "devstack", "user": "devstack", "namespace": namespace}}
            ],
            "current-context": "devstack",
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | Path) -> Path:
        """Write a kubeconfig for this server (JSON, which is YAML too) and return its path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.kubeconfig(), indent=2))
        target.chmod(0o600)
        return target

    def api_client(self) -> ApiClient:
        """A real ``kubernetes.client.ApiClient`` loaded from a kubeconfig for this server."""
        from kubernetes import config

        if self._config_dir is None:
            self._config_dir = Path(tempfile.mkdtemp(prefix="whooper-kubeconfig-"))
        path = self.write_kubeconfig(self._config_dir / "kubeconfig")
        client: ApiClient = config.new_client_from_config(config_file=str(path))  # type: ignore[no-untyped-call]
        return client

    # -- state -------------------------------------------------------------------------

    def add_pod(self, pod: Mapping[str, Any]) -> None:
        """Store a pod (replacing one with the same namespace and name)."""
        with self._lock:
            self._pods.put(pod)

    def set_pods(self, pods: Iterable[Mapping[str, Any]]) -> None:
        """Replace all pods. Each is serialised once here, so lists only join bytes."""
        with self._lock, _gc_paused():
            self._pods.clear()
            self._pods.put_many(pods)

    def delete_pod(self, namespace: str, name: str) -> bool:
        with self._lock:
            return self._pods.remove(f"{namespace}/{name}") is not None

    def get_pod(self, namespace: str, name: str) -> JsonObject | None:
        with self._lock:
            stored = self._pods.get(f"{namespace}/{name}")
            return None if stored is None else dict(json.loads(self._pods.full(stored)))

    @property
    def pod_count(self) -> int:
        with self._lock:
            return len(self._pods)

    def set_logs(
        self, namespace: str, pod: str, text: str, container: str | None = None, *, previous: bool = False
    ) -> None:
        """Log text for a pod's container (``container=None``: for any container of the pod)."""
        with self._lock:
            self._logs[(namespace, pod, container, previous)] = text

    def add_event(self, event: Mapping[str, Any]) -> None:
        with self._lock:
            self._events.put(event)

    def set_events(self, events: Iterable[Mapping[str, Any]]) -> None:
        with self._lock:
            self._events.clear()
            self._events.put_many(events)

    def register_custom_resource(
        self, group: str, version: str, plural: str, kind: str, *, status_subresource: bool = True
    ) -> None:
        """Declare a custom resource like a CRD would. Unregistered ones are created on first use,
        with their kind taken from the first object or guessed from the plural."""
        with self._lock:
            rtype = _ResourceType(group, version, plural, kind, _META_FIELDS, True, status_subresource)
            existing = self._custom.get((group, plural))
            collection = _Collection(rtype, self._revisions)
            if existing is not None:
                collection.put_many(json.loads(s.item) for s in existing.snapshot().items)
            self._custom[(group, plural)] = collection

    def add_custom_object(self, group: str, version: str, plural: str, obj: Mapping[str, Any]) -> JsonObject:
        """Seed a custom object as if it had been created through the API."""
        with self._lock:
            collection = self._custom_collection(group, version, plural, obj.get("kind"))
            namespace = obj.get("metadata", {}).get("namespace", "default")
            try:
                return self._create_custom(collection, namespace, dict(obj), {})
            except _StatusError as error:
                raise ValueError(str(error)) from error

    def get_custom_object(self, group: str, plural: str, namespace: str, name: str) -> JsonObject | None:
        with self._lock:
            collection = self._custom.get((group, plural))
            stored = collection.get(f"{namespace}/{name}") if collection else None
            return None if stored is None else dict(json.loads(stored.item))

    def list_custom_objects(self, group: str, plural: str, namespace: str | None = None) -> list[JsonObject]:
        with self._lock:
            collection = self._custom.get((group, plural))
            if collection is None:
                return []
            items = collection.snapshot().items
        objects = [dict(json.loads(stored.item)) for stored in items]
        return [o for o in objects if namespace is None or o["metadata"].get("namespace") == namespace]

    def expire_continue_tokens(self) -> None:
        """Make every continue token issued so far answer ``410 Expired``, as after etcd compaction."""
        with self._lock:
            # A new revision, so that lists made from now on never reuse a forgotten snapshot's revision.
            self._revisions.next()
            for collection in (self._pods, self._events, *self._custom.values()):
                collection.forget_history()

    # -- faults and recorded requests ------------------------------------------------

    def fail(
        self,
        status: int,
        times: int = 1,
        path_contains: str | None = None,
        *,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and a ``Status`` body.

        ``path_contains`` matches the path with its query string (``"continue="`` works).
        403 names :attr:`user` and the request's verb and resource like an RBAC denial.
        ``retry_after`` adds a ``Retry-After`` header; beware that urllib3 (under the
        ``kubernetes`` client) then silently retries GETs answered 413/429/503.
        """
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self._faults.add_failure(_Fault(status, 0.0, times, path_contains, message, headers))

    def delay(self, seconds: float, times: int = 1, path_contains: str | None = None) -> None:
        """Hold the next ``times`` matching requests for ``seconds`` before answering them.

        To make a GET time out in the ``kubernetes`` client, delay four requests: urllib3
        retries a read timeout three times by itself.
        """
        self._faults.add_delay(_Fault(0, seconds, times, path_contains))

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- request handling ------------------------------------------------------------

    def _handle(self, request: RecordedRequest) -> _Response:
        with self._lock:
            self._requests.append(request)
        delay = self._faults.take_delay(request.target)
        if delay is not None:
            self._stopping.wait(delay.seconds)
        headers = {"Audit-Id": str(uuid.uuid4()), "Cache-Control": "no-cache, private"}
        if request.path in ("/healthz", "/livez", "/readyz"):
            return _Response(200, b"ok", "text/plain; charset=utf-8", headers)
        if request.path == "/version":
            return _Response.json(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-devstack"}, headers)
        if request.header("Authorization") != f"Bearer {self.token}":
            return _Response.json(401, status_body(401, "Unauthorized"), headers)
        try:
            route = self._route(request)
            fault = self._faults.take_failure(request.target)
            if fault is not None:
                return self._fault_response(fault, route, request.path, headers)
            if route is None:
                raise _StatusError(404, "the server could not find the requested resource", details={})
            response = self._dispatch(request, route)
        except _StatusError as error:
            return _Response.json(error.code, error.body, headers)
        response.headers.update(headers)
        return response

    def _route(self, request: RecordedRequest) -> _Route | None:
        verb = _VERBS.get(request.method, "get")
        match = _CORE.match(request.path)
        if match:
            collection = self._pods if match["resource"] == "pods" else self._events
        else:
            match = _CUSTOM.match(request.path)
            if not match:
                return None
            with self._lock:
                collection = self._custom_collection(match["group"], match["version"], match["resource"], None)
        if match["name"] is None and verb == "get":
            verb = "list"
        return _Route(verb, collection, match["ns"], match["name"], match["sub"])

    def _custom_collection(self, group: str, version: str, plural: str, kind: str | None) -> _Collection:
        collection = self._custom.get((group, plural))
        if collection is None:
            guessed = kind or (plural[:-1] if plural.endswith("s") else plural).capitalize()
            rtype = _ResourceType(group, version, plural, guessed, _META_FIELDS, custom=True)
            collection = self._custom[(group, plural)] = _Collection(rtype, self._revisions)
            collection.kind_guessed = kind is None
        return collection

    def _fault_response(self, fault: _Fault, route: _Route | None, path: str, headers: dict[str, str]) -> _Response:
        code = fault.status
        details: JsonObject | None = None
        message = fault.message
        if route is not None:
            rtype = route.collection.rtype
            details = {
                **({"name": route.name} if route.name else {}),
                **({"group": rtype.group} if rtype.group else {}),
            }
            details["kind"] = rtype.plural
        if message is None:
            if code == 403:
                message = self._forbidden_message(route, path)
            elif code == 404 and route is not None and route.name:
                message = f'{route.collection.rtype.qualified} "{route.name}" not found'
            elif code == 409 and route is not None:
                message = (
                    f'Operation cannot be fulfilled on {route.collection.rtype.qualified} "{route.name or ""}": '
                    "the object has been modified; please apply your changes to the latest version and try again"
                )
            else:
                message = {
                    400: "the server rejected our request for an unknown reason",
                    401: "Unauthorized",
                    404: "the server could not find the requested resource",
                    410: CONTINUE_EXPIRED,
                    429: "Too many requests, please try again later.",
                    500: "Internal error occurred: etcdserver: request timed out",
                    503: "the server is currently unable to handle the request",
                    504: "Timeout: request did not complete within requested timeout - context deadline exceeded",
                }.get(code) or _phrase(code)
        if code == 500:
            details = {**(details or {}), "causes": [{"message": message.removeprefix("Internal error occurred: ")}]}
        body = status_body(code, message, details=details)
        return _Response.json(code, body, {**headers, **fault.headers})

    def _forbidden_message(self, route: _Route | None, path: str) -> str:
        if route is None:
            return f'forbidden: User "{self.user}" cannot get path "{path}"'
        rtype = route.collection.rtype
        subject = f'{rtype.qualified} "{route.name}"' if route.name else rtype.qualified
        resource = f"{rtype.plural}/{route.subresource}" if route.subresource else rtype.plural
        scope = f'in the namespace "{route.namespace}"' if route.namespace else "at the cluster scope"
        return (
            f'{subject} is forbidden: User "{self.user}" cannot {route.verb} resource "{resource}" '
            f'in API group "{rtype.group}" {scope}'
        )

    def _dispatch(self, request: RecordedRequest, route: _Route) -> _Response:
        rtype, verb, subresource = route.collection.rtype, route.verb, route.subresource
        not_allowed = _StatusError(405, "the server does not allow this method on the requested resource", details={})
        if request.param("watch") in ("true", "1"):
            raise _StatusError(400, "watch is not supported by the devstack Kubernetes API stand-in")
        if route.name is None:
            if verb == "list":
                return self._list(request, route)
            if verb == "create" and rtype.custom and route.namespace:
                return self._create(request, route)
            raise not_allowed
        if route.namespace is None or subresource not in (None, "status", "log"):
            raise _StatusError(404, "the server could not find the requested resource", details={})
        if subresource == "log":
            if rtype is not _PODS:
                raise _StatusError(404, "the server could not find the requested resource", details={})
            if verb == "get":
                return self._log(request, route)
            raise not_allowed
        if verb == "get":
            return self._get(route)
        if rtype.custom and verb == "patch":
            return self._patch(request, route)
        if rtype.custom and verb == "delete" and subresource is None:
            return self._delete(route)
        raise not_allowed

    def _list(self, request: RecordedRequest, route: _Route) -> _Response:
        collection, rtype = route.collection, route.collection.rtype
        selector = _parse_selectors(request.param("fieldSelector"), request.param("labelSelector"), rtype.selectable)
        limit_text = request.param("limit")
        try:
            limit = int(limit_text) if limit_text else None
        except ValueError as error:
            raise _StatusError(400, f"limit: Invalid value: {limit_text!r}") from error
        limit = limit if limit and limit > 0 else None
        prefix = f"{route.namespace}/" if route.namespace else ""
        token = request.param("continue")
        with self._lock:
            if token:
                revision, start = _decode_continue(token)
                snapshot = collection.snapshot() if revision == -1 else collection.snapshot_at(revision)
                if snapshot is None:
                    fresh = _encode_continue(-1, start)
                    raise _StatusError(410, CONTINUE_INCONSISTENT, metadata={"continue": fresh})
            else:
                snapshot, start = collection.snapshot(), ""
        page = _page(snapshot, prefix, start, limit, selector)
        # Assembled from pre-serialised items: no object is encoded again here.
        metadata: JsonObject = {"resourceVersion": str(snapshot.revision)}
        if page.next_start is not None:
            metadata["continue"] = _encode_continue(snapshot.revision, page.next_start)
            if page.remaining is not None:
                metadata["remainingItemCount"] = page.remaining
        head = b'{"kind":"%sList","apiVersion":"%s","metadata":%s,"items":[' % (
            rtype.kind.encode(),
            rtype.api_version.encode(),
            _dumps(metadata),
        )
        return _Response(200, head + b",".join(stored.item for stored in page.items) + b"]}")

    def _get(self, route: _Route) -> _Response:
        with self._lock:
            stored = route.collection.get(route.key)
        if stored is None:
            raise route.not_found()
        return _Response(200, route.collection.full(stored))

    def _log(self, request: RecordedRequest, route: _Route) -> _Response:
        with self._lock:
            stored = self._pods.get(route.key)
            if stored is None:
                raise route.not_found()
            pod = json.loads(self._pods.full(stored))
            logs = dict(self._logs)
        name = route.name or ""
        containers = [c["name"] for c in pod.get("spec", {}).get("containers", [])]
        container = request.param("container")
        if not container:
            if len(containers) > 1:
                raise _StatusError(
                    400, f"a container name must be specified for pod {name}, choose one of: [{' '.join(containers)}]"
                )
            container = containers[0] if containers else None
        elif containers and container not in containers:
            raise _StatusError(400, f"container {container} is not valid for pod {name}")
        previous = request.param("previous") == "true"
        status = next((s for s in pod.get("status", {}).get("containerStatuses", []) if s["name"] == container), None)
        if status is not None:
            waiting, last = status["state"].get("waiting"), status.get("lastState", {}).get("terminated")
            if previous and last is None:
                raise _StatusError(400, f'previous terminated container "{container}" in pod "{name}" not found')
            if not previous and waiting and last is None:
                reason = {
                    "ImagePullBackOff": "trying and failing to pull image",
                    "ErrImagePull": "image can't be pulled",
                }.get(waiting.get("reason", ""), waiting.get("reason", ""))
                raise _StatusError(400, f'container "{container}" in pod "{name}" is waiting to start: {reason}')
        namespace = route.namespace or ""
        text = logs.get((namespace, name, container, previous), logs.get((namespace, name, None, previous), ""))
        tail = _non_negative(request.param("tailLines"), "tailLines", minimum=0)
        limit = _non_negative(request.param("limitBytes"), "limitBytes", minimum=1)
        if tail is not None:
            # The kubelet cuts the tail first, then limitBytes from its start.
            text = "".join(text.splitlines(keepends=True)[-tail:]) if tail else ""
        data = text.encode()
        return _Response(200, data[:limit] if limit is not None else data, "text/plain")

    # -- custom objects --------------------------------------------------------------

    def _create(self, request: RecordedRequest, route: _Route) -> _Response:
        try:
            body = json.loads(request.body)
        except ValueError as error:
            raise _StatusError(400, f"the object provided is unrecognized: {error}") from error
        if not isinstance(body, dict):
            raise _StatusError(400, "the object provided is unrecognized (must be a JSON object)")
        with self._lock:
            created = self._create_custom(route.collection, route.namespace or "", body, request.query)
        return _Response.json(201, created)

    def _create_custom(
        self, collection: _Collection, namespace: str, body: JsonObject, query: Mapping[str, list[str]]
    ) -> JsonObject:
        rtype = collection.rtype
        if body.get("apiVersion") != rtype.api_version:
            raise _StatusError(
                400,
                f"the API version in the data ({body.get('apiVersion')}) does not match "
                f"the expected API version ({rtype.api_version})",
            )
        if body.get("kind") != rtype.kind:
            if collection.kind_guessed and isinstance(body.get("kind"), str):
                # No CRD told the kind: the first object does.
                collection.rtype = rtype = dataclasses.replace(rtype, kind=body["kind"])
                collection.kind_guessed = False
            else:
                raise _StatusError(
                    400, f"the kind in the data ({body.get('kind')}) does not match the expected kind ({rtype.kind})"
                )
        metadata = dict(body.get("metadata") or {})
        if metadata.get("namespace", namespace) != namespace:
            raise _StatusError(
                400, "the namespace of the provided object does not match the namespace sent on the request"
            )
        if not metadata.get("name"):
            if not metadata.get("generateName"):
                raise _StatusError(
                    422,
                    f'{rtype.kind}.{rtype.group} "" is invalid: metadata.name: Required value: '
                    "name or generateName is required",
                )
            metadata["name"] = metadata["generateName"] + _safe(5, str(uuid.uuid4()))
        name = metadata["name"]
        if collection.get(f"{namespace}/{name}") is not None:
            raise _StatusError(
                409,
                f'{rtype.qualified} "{name}" already exists',
                "AlreadyExists",
                details={"name": name, "group": rtype.group, "kind": rtype.plural},
            )
        now = _ts(datetime.now(UTC))
        manager = (query.get("fieldManager") or [""])[0] or "OpenAPI-Generator"
        metadata.update({"namespace": namespace, "uid": str(uuid.uuid4()), "generation": 1, "creationTimestamp": now})
        metadata["managedFields"] = [
            {
                "apiVersion": rtype.api_version,
                "fieldsType": "FieldsV1",
                "fieldsV1": {f"f:{key}": {} for key in body if key not in ("apiVersion", "kind", "metadata", "status")},
                "manager": manager,
                "operation": "Update",
                "time": now,
            }
        ]
        obj = {**body, "metadata": metadata}
        if rtype.status_subresource:
            obj.pop("status", None)  # status is only written through /status
        if "dryRun" in query:
            return obj
        return dict(json.loads(collection.put(obj).item))

    def _patch(self, request: RecordedRequest, route: _Route) -> _Response:
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        try:
            patch = json.loads(request.body)
        except ValueError as error:
            raise _StatusError(400, f"error decoding patch: {error}") from error
        collection, rtype = route.collection, route.collection.rtype
        with self._lock:
            stored = collection.get(route.key)
            if stored is None:
                raise route.not_found()
            current = json.loads(stored.item)
            try:
                if content_type == "application/merge-patch+json":
                    patched = merge_patch(current, patch)
                elif content_type == "application/json-patch+json":
                    patched = json_patch(current, patch)
                else:
                    # Custom resources have no strategic merge patch (no Go struct tags to merge by).
                    raise _StatusError(
                        415,
                        "the body of the request was in an unknown format - accepted media types include: "
                        "application/json-patch+json, application/merge-patch+json",
                    )
            except _PatchError as error:
                raise _StatusError(422, str(error)) from error
            if not isinstance(patched, dict):
                raise _StatusError(422, "the patched object is not a JSON object")
            sent_version = patched.get("metadata", {}).get("resourceVersion")
            if sent_version and sent_version != current["metadata"]["resourceVersion"]:
                raise _StatusError(
                    409,
                    f'Operation cannot be fulfilled on {rtype.qualified} "{route.name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    details={"name": route.name, "group": rtype.group, "kind": rtype.plural},
                )
            result = self._apply_subresource_rules(rtype, route.subresource, current, patched)
            if result == current:
                return _Response(200, stored.item)  # a no-op patch keeps the resourceVersion
            if "dryRun" in request.query:
                return _Response.json(200, result)
            return _Response(200, collection.put(result).item)

    @staticmethod
    def _apply_subresource_rules(
        rtype: _ResourceType, subresource: str | None, current: JsonObject, patched: JsonObject
    ) -> JsonObject:
        metadata = {**patched.get("metadata", {})}
        for fixed in ("name", "namespace", "uid", "creationTimestamp", "resourceVersion", "generation"):
            if fixed in current["metadata"]:
                metadata[fixed] = current["metadata"][fixed]
        if subresource == "status":
            # /status writes only .status; everything else stays as it was.
            result = {k: v for k, v in current.items() if k != "status"}
            if "status" in patched:
                result["status"] = patched["status"]
            return result
        result = {**patched, "metadata": metadata, "apiVersion": current["apiVersion"], "kind": current["kind"]}
        if rtype.status_subresource:
            result.pop("status", None)
            if "status" in current:
                result["status"] = current["status"]

        def spec_of(obj: JsonObject) -> JsonObject:
            return {k: v for k, v in obj.items() if k not in ("metadata", "status")}

        status_changed = result.get("status") != current.get("status")
        if spec_of(result) != spec_of(current) or (status_changed and not rtype.status_subresource):
            metadata["generation"] = int(current["metadata"].get("generation", 1)) + 1
        return result

    def _delete(self, route: _Route) -> _Response:
        with self._lock:
            stored = route.collection.remove(route.key)
        if stored is None:
            raise route.not_found()
        return _Response(200, stored.item)  # custom objects answer a DELETE with the object


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve generated pods from a Kubernetes API stand-in until killed.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--pods", type=int, default=1000, help="number of generated pods")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="bearer token clients must send")
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--no-managed-fields", action="store_true", help="leave managedFields out (smaller pods)")
    parser.add_argument("--kubeconfig", type=Path, help="also write a kubeconfig here")
    args = parser.parse_args(argv)

    server = KubeApiServer(args.token, port=args.port)
    with _gc_paused():
        _populate(
            server, generate_pods(args.pods, namespaces=args.namespaces, with_managed_fields=not args.no_managed_fields)
        )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with server:
        if args.kubeconfig:
            server.write_kubeconfig(args.kubeconfig)
        print(f"ready {server.url}", flush=True)
        stop.wait()
    return 0


def _populate(server: KubeApiServer, pods: Iterable[JsonObject]) -> None:
    """Pods, the events of those in trouble, and logs for every app container that ran."""
    samples: dict[str, str] = {}  # one log text per app, shared by its pods
    for pod in pods:
        server.add_pod(pod)
        if pod["status"]["phase"] != "Running" or _in_trouble(pod):
            for event in pod_events(pod):
                server.add_event(event)
        if pod["status"].get("containerStatuses"):
            app = pod["spec"]["containers"][0]["name"]
            text = samples.setdefault(app, _sample_log(app))
            server.set_logs(pod["metadata"]["namespace"], pod["metadata"]["name"], text, app)


def _in_trouble(pod: Mapping[str, Any]) -> bool:
    return any(not status.get("ready") for status in pod["status"].get("containerStatuses", []))


def _sample_log(app: str) -> str:
    return "".join(
        f'{{"level":"{"error" if i % 7 == 6 else "info"}","msg":"{app} handled request","request":{i}}}\n'
        for i in range(20)
    )


if __name__ == "__main__":
    sys.exit(main())
