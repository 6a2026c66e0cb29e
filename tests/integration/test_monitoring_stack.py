"""The rules and routes of monitoring/ in the real stack: pod state pushed as pod_exporter pushes it,
scraped the way the ServiceMonitor scrapes it, evaluated by Prometheus, routed by Alertmanager."""

from __future__ import annotations

import json
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

# One run of pod_exporter, as the contract shapes it (one PUT of the whole group).
POD_STATE = """\
# TYPE whooper_pods_total gauge
whooper_pods_total 3
# TYPE whooper_pods_running gauge
whooper_pods_running 2
# TYPE whooper_pods_pending gauge
whooper_pods_pending 0
# TYPE whooper_pods_failed gauge
whooper_pods_failed 1
# TYPE whooper_pod_phase gauge
whooper_pod_phase{namespace="shop",pod="web-1",phase="Failed"} 1
whooper_pod_phase{namespace="shop",pod="api-1",phase="Running"} 1
whooper_pod_phase{namespace="shop",pod="web-2",phase="Running"} 1
# TYPE whooper_pod_container_waiting gauge
whooper_pod_container_waiting{namespace="shop",pod="api-1",container="app",reason="CrashLoopBackOff"} 1
"""


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

    pushed = requests.put(f"{pushgateway.url}/metrics/job/whooper-pod-exporter", data=POD_STATE, timeout=5)
    assert pushed.status_code == 200

    def settled() -> dict[tuple[str, str], dict[str, str]] | None:
        states = _alert_states(prometheus)
        pod_alerts = {("PodDown", "web-1"), ("PodCrashLooping", "api-1")} <= set(states)
        return states if pod_alerts and ("WhooperPodExporterMissing", "") not in states else None

    states = wait_until(settled, timeout=60, what="pod alerts pending and the exporter seen")
    # honorLabels keeps the pushed namespace and pod (not the Pushgateway's namespace label).
    assert states[("PodDown", "web-1")] == {
        "alertname": "PodDown",
        "namespace": "shop",
        "pod": "web-1",
        "severity": "critical",
        "state": "pending",  # for: 1m
    }
    assert states[("PodCrashLooping", "api-1")]["container"] == "app"
    assert states[("Watchdog", "")]["state"] == "firing"
    assert ("WhooperPodExporterStale", "") not in states
    assert ("PodDown", "web-2") not in states

    # Every dashboard query is valid PromQL for this Prometheus, and the pod status stats show the push.
    dashboard = json.loads(DASHBOARD_JSON.read_text())
    for expr in dashboard_exprs(dashboard):
        query(prometheus, expr.replace("$__rate_interval", "1m"))  # raises on a query Prometheus rejects
    stats = {p["title"]: p["targets"][0]["expr"] for p in dashboard["panels"] if p["type"] == "stat"}
    shown = {title: query(prometheus, expr)[0]["value"][1] for title, expr in stats.items()}
    assert shown == {"Total pods": "3", "Running": "2", "Pending": "0", "Failed": "1"}

    def watchdog_in_alertmanager() -> list[dict[str, Any]]:
        held = requests.get(f"{alertmanager.url}/api/v2/alerts", timeout=5).json()
        return [alert for alert in held if alert["labels"]["alertname"] == "Watchdog"]

    # Watchdog fires at Prometheus' first evaluation, before it has found Alertmanager; that send is
    # dropped and Prometheus resends a firing alert once a minute, hence the long deadline.
    (watchdog,) = wait_until(watchdog_in_alertmanager, timeout=120, what="Watchdog in Alertmanager")
    assert [r["name"] for r in watchdog["receivers"]] == ["whooper-watchdog"]
    assert watchdog["annotations"]["summary"] == "Always firing, to prove the alert path works."
