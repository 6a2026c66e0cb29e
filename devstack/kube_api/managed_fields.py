"""The ``metadata.managedFields`` of a controller-made pod."""

from __future__ import annotations

from datetime import datetime, timedelta

from devstack.kube_api.naming import k8s_time
from devstack.standin import JsonObject


def managed_fields(pod: JsonObject, created: datetime) -> list[JsonObject]:
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
    at = k8s_time(created + timedelta(seconds=12))
    return [
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": "v1",
            "time": k8s_time(created),
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
