"""monitoring/alertmanager.yaml checked by amtool and run by a real Alertmanager.

amtool is Debian's, unpacked (not installed) by devstack.engine.debian_tool; the Alertmanager
is the test stack's container, with the webhooks pointed at a receiver on the host.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from devstack.monitoring import (
    MONITORING_DIR,
    alerting_rules,
    alertmanager_config,
    alertmanagerconfig_as_plain,
    amtool,
    load_yaml,
    with_webhook_url,
)
from devstack.receiver import Receiver
from devstack.stack import Service, wait_until
from tests.conftest import Stack

# Label sets as the rules produce them (amtool's syntax), and the receiver each must reach.
ROUTES: list[tuple[str, str]] = [
    ("alertname=Watchdog severity=none", "whooper-watchdog"),
    (
        "alertname=WhooperBackendDown severity=critical namespace=whooper pod=alert-webhook-1 job=alert-webhook",
        "whooper-critical",
    ),
    ("alertname=WhooperHighErrorRate severity=critical namespace=whooper job=alert-webhook", "whooper-critical"),
    ("alertname=WhooperSlowRequests severity=warning namespace=whooper job=alert-webhook route=/", "whooper-warning"),
    ("alertname=WhooperHighMemoryUsage severity=warning namespace=whooper pod=incident-report-1", "whooper-warning"),
    ("alertname=WhooperHighCPUUsage severity=warning namespace=whooper pod=pod-exporter-1", "whooper-warning"),
    ("alertname=PodDown severity=critical namespace=shop pod=web-1", "whooper-critical"),
    ("alertname=PodCrashLooping severity=warning namespace=shop pod=api-1 container=app", "whooper-pod-failures"),
    ("alertname=PodPending severity=warning namespace=shop pod=db-0", "whooper-pod-failures"),
    ("alertname=HighPodMemory severity=warning namespace=shop pod=web-1 container=app", "whooper-warning"),
    ("alertname=HighPodCPU severity=warning namespace=shop pod=web-1 container=app", "whooper-warning"),
    ("alertname=GeminiAPIErrors severity=warning namespace=whooper job=incident-report", "whooper-warning"),
    ("alertname=SlowAIResponses severity=warning operation=summarize", "whooper-warning"),
    ("alertname=EmailServiceUnreachable severity=critical namespace=whooper job=alert-webhook", "whooper-critical"),
    ("alertname=HighIncidentRate severity=warning", "whooper-warning"),
    ("alertname=HighMTTR severity=warning", "whooper-warning"),
    ("alertname=WhooperEventsDeadLettered severity=warning type=dev.whooper.alert.firing", "whooper-warning"),
    ("alertname=WhooperPodExporterStale severity=warning job=whooper-pod-exporter", "whooper-warning"),
    ("alertname=WhooperPodExporterMissing severity=warning job=whooper-pod-exporter", "whooper-warning"),
    ("alertname=WhooperPodExporterPushFailing severity=warning job=whooper-pod-exporter", "whooper-warning"),
    ("alertname=WhooperPodExporterErrors severity=warning kind=kubernetes_forbidden", "whooper-warning"),
    # Alerts from elsewhere (kube-prometheus-stack's own rules) still reach someone.
    ("alertname=KubeNodeNotReady severity=warning node=n1", "whooper-warning"),
    ("alertname=InfoInhibitor severity=none", "whooper-null"),
    ("alertname=CPUThrottlingHigh severity=info namespace=shop", "whooper-default"),
    ("alertname=SomethingWithoutSeverity", "whooper-default"),
]


def _labels(row: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in row.split())


def _amtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(amtool()), *map(str, args)], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def config_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The plain config as committed, and the AlertmanagerConfig resource translated to plain form."""
    directory = tmp_path_factory.mktemp("alertmanager")
    translated = directory / "from-alertmanagerconfig.yaml"
    translated.write_text(yaml.safe_dump(alertmanagerconfig_as_plain(load_yaml("alertmanagerconfig.yaml"))))
    return {"alertmanager.yaml": MONITORING_DIR / "alertmanager.yaml", "alertmanagerconfig.yaml": translated}


@pytest.mark.parametrize("form", ["alertmanager.yaml", "alertmanagerconfig.yaml"])
def test_amtool_check_config_accepts_both_forms(config_files: dict[str, Path], form: str) -> None:
    result = _amtool("check-config", config_files[form])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "6 receivers" in result.stdout
    assert "4 inhibit rules" in result.stdout


def test_the_route_table_covers_every_alert_with_its_severity() -> None:
    table = {labels["alertname"]: labels.get("severity") for labels in map(_labels, (row for row, _ in ROUTES))}
    for rule in alerting_rules():
        assert table.get(rule["alert"]) == rule["labels"]["severity"], rule["alert"]


@pytest.mark.parametrize("form", ["alertmanager.yaml", "alertmanagerconfig.yaml"])
@pytest.mark.parametrize(("labels", "receiver"), ROUTES, ids=[row.split()[0] for row, _ in ROUTES])
def test_amtool_routes_label_set_to_receiver(
    config_files: dict[str, Path], form: str, labels: str, receiver: str
) -> None:
    result = _amtool("config", "routes", "test", f"--config.file={config_files[form]}", *labels.split())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def _post_alerts(alertmanager: Service, label_sets: list[dict[str, str]]) -> None:
    alerts = [{"labels": labels, "annotations": {"summary": "inhibition test"}} for labels in label_sets]
    response = requests.post(f"{alertmanager.url}/api/v2/alerts", json=alerts, timeout=5)
    assert response.status_code == 200, response.text


def _key(labels: dict[str, str]) -> str:
    return " ".join(labels[name] for name in ("alertname", "namespace", "pod") if name in labels)


def _inhibited_by(alertmanager: Service) -> dict[str, set[str]]:
    """Every alert Alertmanager holds, and the alerts that inhibit it (by alertname, namespace, pod)."""
    alerts: list[dict[str, Any]] = requests.get(f"{alertmanager.url}/api/v2/alerts", timeout=5).json()
    by_fingerprint = {alert["fingerprint"]: _key(alert["labels"]) for alert in alerts}
    return {_key(alert["labels"]): {by_fingerprint[f] for f in alert["status"]["inhibitedBy"]} for alert in alerts}


SOURCES = [
    {"alertname": "PodDown", "severity": "critical", "namespace": "shop", "pod": "web-1"},
    {"alertname": "WhooperBackendDown", "severity": "critical", "namespace": "whooper", "pod": "alert-webhook-1"},
    {"alertname": "EmailServiceUnreachable", "severity": "critical", "namespace": "whooper", "job": "alert-webhook"},
    {"alertname": "WhooperHighMemoryUsage", "severity": "warning", "namespace": "whooper", "pod": "incident-report-1"},
    {"alertname": "Watchdog", "severity": "none"},
]
TARGETS = [
    # a critical alert for the pod mutes the pod's warnings
    {"alertname": "PodCrashLooping", "severity": "warning", "namespace": "shop", "pod": "web-1", "container": "app"},
    {"alertname": "HighPodMemory", "severity": "warning", "namespace": "shop", "pod": "web-1", "container": "app"},
    # the function's pod is down: its CPU alert adds nothing
    {"alertname": "WhooperHighCPUUsage", "severity": "warning", "namespace": "whooper", "pod": "alert-webhook-1"},
    # the function's own memory alert mutes the generic container one for the same pod
    {"alertname": "HighPodMemory", "severity": "warning", "namespace": "whooper", "pod": "incident-report-1"},
    # not muted: another pod, another namespace, no pod at all, no matching source
    {"alertname": "PodCrashLooping", "severity": "warning", "namespace": "shop", "pod": "web-2", "container": "app"},
    {"alertname": "PodPending", "severity": "warning", "namespace": "other", "pod": "web-1"},
    {"alertname": "GeminiAPIErrors", "severity": "warning", "namespace": "whooper", "job": "incident-report"},
    {"alertname": "HighPodCPU", "severity": "warning", "namespace": "whooper", "pod": "incident-report-1"},
]
EXPECTED_INHIBITIONS = {
    "PodDown shop web-1": set(),
    "WhooperBackendDown whooper alert-webhook-1": set(),
    "EmailServiceUnreachable whooper": set(),
    "WhooperHighMemoryUsage whooper incident-report-1": set(),
    "Watchdog": set(),
    "PodCrashLooping shop web-1": {"PodDown shop web-1"},
    "HighPodMemory shop web-1": {"PodDown shop web-1"},
    "WhooperHighCPUUsage whooper alert-webhook-1": {"WhooperBackendDown whooper alert-webhook-1"},
    "HighPodMemory whooper incident-report-1": {"WhooperHighMemoryUsage whooper incident-report-1"},
    "PodCrashLooping shop web-2": set(),
    "PodPending other web-1": set(),
    "GeminiAPIErrors whooper": set(),
    "HighPodCPU whooper incident-report-1": set(),
}


def test_real_alertmanager_inhibits_as_designed_and_notifies_the_critical_route(
    stack: Stack, receiver: Callable[[], Receiver]
) -> None:
    webhook = receiver()
    alertmanager = stack.alertmanager(with_webhook_url(alertmanager_config(), f"{webhook.url}/"))

    _post_alerts(alertmanager, SOURCES + TARGETS)

    wait_until(lambda: _inhibited_by(alertmanager) == EXPECTED_INHIBITIONS, timeout=30, what="inhibitions settled")
    assert _inhibited_by(alertmanager) == EXPECTED_INHIBITIONS

    # The critical route (group wait 10 s) notifies one group per alertname, namespace and pod.
    def critical() -> list[dict[str, Any]]:
        notifications = [request.json() for request in webhook.requests]
        return [n for n in notifications if n["receiver"] == "whooper-critical"]

    wait_until(lambda: len(critical()) >= 3, timeout=60, what="three critical notifications")
    assert sorted(alert["labels"]["alertname"] for n in critical() for alert in n["alerts"]) == [
        "EmailServiceUnreachable",
        "PodDown",
        "WhooperBackendDown",
    ]
    assert all(n["version"] == "4" and n["status"] == "firing" for n in critical())
