"""Alertmanager webhook payloads (version 4) shaped like the real ones, each one different.

alert_webhook remembers the notifications it has mailed, so a repeated payload
would take its cheap path; every body here has its own group key, fingerprints
and start time, so every request does the full work.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

ALERTNAMES = ("PodCrashLooping", "PodNotReady", "ContainerOOMKilled", "PodFailed")
SEVERITIES = ("critical", "warning")


def _alert(sequence: int, index: int, starts_at: datetime) -> dict[str, Any]:
    namespace = f"team-{index % 7}"
    pod = f"checkout-api-{sequence:06d}-{index:04d}-7d9f8b6c5d-x2k4q"
    alertname = ALERTNAMES[sequence % len(ALERTNAMES)]
    return {
        "status": "firing",
        "labels": {
            "alertname": alertname,
            "severity": SEVERITIES[index % len(SEVERITIES)],
            "namespace": namespace,
            "pod": pod,
            "container": "api",
            "job": "whooper-pod-exporter",
            "prometheus": "monitoring/kube-prometheus-stack-prometheus",
        },
        "annotations": {
            "summary": f"Pod {namespace}/{pod} is crash looping",
            "description": f"Container api of pod {namespace}/{pod} restarted 5 times in the last 10 minutes.",
            "action": "Check the container's last logs: kubectl logs --previous",
            "runbook_url": f"https://whooper.example/runbook#{alertname.lower()}",
        },
        "startsAt": (starts_at - timedelta(seconds=index)).isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.monitoring:9090/graph?g0.expr=whooper_pod_phase%7Bphase%3D%22Failed%22%7D",
        "fingerprint": f"{sequence:08x}{index:08x}",
    }


def notification(alerts: int, sequence: int) -> bytes:
    """A firing notification with ``alerts`` alerts, unique to ``sequence``."""
    starts_at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=sequence)
    items = [_alert(sequence, index, starts_at) for index in range(alerts)]
    alertname = items[0]["labels"]["alertname"]
    payload = {
        "version": "4",
        "groupKey": f'{{}}/{{severity=~"critical|warning"}}:{{alertname="{alertname}", batch="{sequence}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "whooper-alert-webhook",
        "groupLabels": {"alertname": alertname, "batch": str(sequence)},
        "commonLabels": {"alertname": alertname, "job": "whooper-pod-exporter"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.monitoring:9093",
        "alerts": items,
    }
    return json.dumps(payload).encode()
