"""pod_exporter's pushed group for the cluster in tests/unit/data/pod_list.json, as the monitoring tests use it.

Made by pod_exporter's own code (the page reader and the group), so the rules and the metrics
catalog are checked against what the exporter really pushes, not against a copy of it.
"""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import generate_latest

from pod_exporter.pods import read_page
from pod_exporter.series import PodGroup, RunHealth

POD_LIST = Path(__file__).parent / "unit" / "data" / "pod_list.json"


def pushed_group(finished_at: float) -> str:
    """The exposition text pod_exporter PUTs to the Pushgateway for that cluster."""
    pods, _ = read_page(POD_LIST.read_bytes())
    health = RunHealth(finished_at=finished_at, duration_seconds=0.2, pods_listed=len(pods))
    return generate_latest(PodGroup(pods, health).registry()).decode()


def pods_by_phase(phase: str) -> list[tuple[str, str]]:
    """(namespace, name) of the cluster's pods in ``phase``."""
    items = json.loads(POD_LIST.read_text())["items"]
    return [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in items if p["status"].get("phase") == phase]


def crash_looping_containers() -> set[tuple[str, str, str]]:
    """(namespace, pod, container) of every container, init containers included, waiting in CrashLoopBackOff."""
    found = set()
    for item in json.loads(POD_LIST.read_text())["items"]:
        status = item["status"]
        for container in status.get("initContainerStatuses", []) + status.get("containerStatuses", []):
            if (container.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff":
                found.add((item["metadata"]["namespace"], item["metadata"]["name"], container["name"]))
    return found
