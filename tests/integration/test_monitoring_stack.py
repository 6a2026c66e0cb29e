"""The rules and routes of monitoring/ in the real stack: pod state pushed as pod_exporter pushes it,
scraped the way the ServiceMonitor scrapes it, evaluated by Prometheus, routed by Alertmanager."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import requests

from devstack.monitoring import (
    DASHBOARD_JSON,
    alertmanager_config,
    dashboard_exprs,
    load_yaml,
    rule_groups,
    with_webhook_url,
)
from devstack.receiver import Receiver
from devstack.stack import Service, alerts, query, wait_until
from tests.conftest import Stack
from tests.pushed_pods import crash_looping_containers, pods_by_phase, pushed_group


def _pushgateway_scrape_config(pushgateway: Service) -> dict[str, Any]:
    """The scrape the ServiceMonitor asks prometheus-operator for, pointed at the test's Pushgateway."""
    (endpoint,) = load_yaml("servicemonitor-pushgateway.yaml")["spec"]["endpoints"]
    return {
        "job_name": "pushgateway",
        "honor_labels": endpoint["honorLabels"],
        "metrics_path": endpoint["path"],
        "static_configs": [{"targets": [pushgateway.address], "labels": {"namespace": "monitoring"}}],
    }


def _alert_states(prometheus: Service) -> dict[tuple[str, str], dict[str, str]]:
    found = {}
    for alert in alerts(prometheus):
        labels = alert["labels"]
        found[(labels["alertname"], labels.get("pod", ""))] = {**labels, "state": alert["state"]}
    return found


def test_pushed_pod_state_drives_the_rules_and_watchdog_reaches_its_route(
    stack: Stack, receiver: Callable[[], Receiver]
) -> None:
    webhook = receiver()
    alertmanager = stack.alertmanager(with_webhook_url(alertmanager_config(), f"{webhook.url}/"))
    pushgateway = stack.pushgateway()
    prometheus = stack.prometheus(
        [_pushgateway_scrape_config(pushgateway)],
        rules={"whooper.yml": rule_groups()},
        alertmanager=alertmanager,
    )
    # Before the first push Prometheus knows no exporter at all.
    wait_until(
        lambda: _alert_states(prometheus).get(("WhooperPodExporterMissing", ""), {}).get("state") == "pending",
        timeout=60,
        what="WhooperPodExporterMissing pending",
    )

    # One run of pod_exporter over the cluster of tests/unit/data/pod_list.json, as it PUTs it.
    group = pushed_group(finished_at=time.time())
    pushed = requests.put(f"{pushgateway.url}/metrics/job/whooper-pod-exporter", data=group, timeout=5)
    assert pushed.status_code == 200

    failed = pods_by_phase("Failed")
    pending = pods_by_phase("Pending")
    crash_looping = crash_looping_containers()  # an app container and an init container
    assert len(crash_looping) == 2

    def settled() -> dict[tuple[str, str], dict[str, str]] | None:
        states = _alert_states(prometheus)
        wanted = {("PodDown", pod) for _, pod in failed} | {("PodCrashLooping", pod) for _, pod, _ in crash_looping}
        wanted |= {("PodPending", pod) for _, pod in pending}
        return states if wanted <= set(states) and ("WhooperPodExporterMissing", "") not in states else None

    states = wait_until(settled, timeout=60, what="pod alerts pending and the exporter seen")
    # honorLabels keeps the pushed namespace and pod (not the Pushgateway's namespace label).
    for namespace, pod in failed:
        assert states[("PodDown", pod)] == {
            "alertname": "PodDown",
            "namespace": namespace,
            "pod": pod,
            "severity": "critical",
            "state": "pending",  # for: 1m
        }
    for namespace, pod, container in crash_looping:
        assert states[("PodCrashLooping", pod)]["namespace"] == namespace
        assert states[("PodCrashLooping", pod)]["container"] == container
    assert states[("Watchdog", "")]["state"] == "firing"
    assert ("WhooperPodExporterStale", "") not in states
    # Only the failed pods are down, only those containers crash-loop.
    assert {pod for name, pod in states if name == "PodDown"} == {pod for _, pod in failed}
    assert {pod for name, pod in states if name == "PodCrashLooping"} == {pod for _, pod, _ in crash_looping}

    # Every dashboard query is valid PromQL for this Prometheus, and the pod status stats show the push.
    dashboard = json.loads(DASHBOARD_JSON.read_text())
    for expr in dashboard_exprs(dashboard):
        query(prometheus, expr.replace("$__rate_interval", "1m"))  # raises on a query Prometheus rejects
    stats = {p["title"]: p["targets"][0]["expr"] for p in dashboard["panels"] if p["type"] == "stat"}
    shown = {title: query(prometheus, expr)[0]["value"][1] for title, expr in stats.items()}
    assert shown == {"Total pods": "12", "Running": "3", "Pending": str(len(pending)), "Failed": str(len(failed))}

    def watchdog_in_alertmanager() -> list[dict[str, Any]]:
        held = requests.get(f"{alertmanager.url}/api/v2/alerts", timeout=5).json()
        return [alert for alert in held if alert["labels"]["alertname"] == "Watchdog"]

    # Watchdog fires at Prometheus' first evaluation, before it has found Alertmanager; that send is
    # dropped and Prometheus resends a firing alert once a minute, hence the long deadline.
    (watchdog,) = wait_until(watchdog_in_alertmanager, timeout=120, what="Watchdog in Alertmanager")
    assert [r["name"] for r in watchdog["receivers"]] == ["whooper-watchdog"]
    assert watchdog["annotations"]["summary"] == "Always firing, to prove the alert path works."
