"""The Kubernetes side of monitoring/: the two Alertmanager forms agree, the monitors scrape
what the rules expect, and kustomize applies every manifest (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.monitoring import (
    MONITORING_DIR,
    alertmanager_config,
    alertmanagerconfig_as_plain,
    load_yaml,
    with_webhook_url,
)

WEBHOOK_URL = "http://alert-webhook.whooper.svc.cluster.local/"
TOKEN_FILE = "/etc/alertmanager/secrets/whooper-webhook/token"
FUNCTION_SERVICES = ["alert-webhook", "pod-exporter", "incident-report"]


def _receivers(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {receiver["name"]: receiver for receiver in config["receivers"]}


def test_alertmanagerconfig_resource_is_the_plain_config() -> None:
    resource = load_yaml("alertmanagerconfig.yaml")
    assert resource["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    assert resource["kind"] == "AlertmanagerConfig"
    plain = alertmanager_config()
    plain.pop("global")
    assert alertmanagerconfig_as_plain(resource) == plain


def test_alertmanagerconfig_takes_the_token_from_a_secret_key() -> None:
    spec = load_yaml("alertmanagerconfig.yaml")["spec"]
    for receiver in spec["receivers"]:
        for webhook in receiver.get("webhookConfigs", []):
            assert webhook["httpConfig"]["authorization"]["credentials"] == {"name": "whooper-webhook", "key": "token"}


@pytest.mark.parametrize("name", ["whooper-default", "whooper-critical", "whooper-pod-failures", "whooper-warning"])
def test_every_notifying_receiver_posts_to_alert_webhook_with_the_token_file(name: str) -> None:
    (webhook,) = _receivers(alertmanager_config())[name]["webhook_configs"]
    assert webhook["url"] == WEBHOOK_URL
    assert webhook["send_resolved"] is True
    assert 0 < webhook["max_alerts"] <= 100
    assert webhook["http_config"]["authorization"] == {"type": "Bearer", "credentials_file": TOKEN_FILE}


def test_route_timings_follow_the_design() -> None:
    routes = {route["receiver"]: route for route in alertmanager_config()["route"]["routes"]}
    timings = {name: (r.get("group_wait"), r.get("repeat_interval")) for name, r in routes.items()}
    assert timings["whooper-critical"] == ("10s", "1h")
    assert timings["whooper-warning"] == ("1m", "4h")
    assert timings["whooper-pod-failures"] == ("30s", "2h")
    assert next(iter(routes)) == "whooper-watchdog", "Watchdog is matched before anything else"


def test_with_webhook_url_points_every_webhook_at_the_local_receiver_without_credentials() -> None:
    original = alertmanager_config()
    local = with_webhook_url(original, "http://127.0.0.1:9/")
    for receiver in local["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            assert webhook["url"] == "http://127.0.0.1:9/"
            assert "http_config" not in webhook
    assert alertmanager_config() == original, "the loaded configuration is not modified"
    assert local["route"] == original["route"]
    assert local["inhibit_rules"] == original["inhibit_rules"]


def test_pushgateway_servicemonitor_honours_pushed_labels() -> None:
    monitor = load_yaml("servicemonitor-pushgateway.yaml")
    assert monitor["kind"] == "ServiceMonitor"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["honorLabels"] is True
    assert endpoint["path"] == "/metrics"


def test_function_podmonitor_scrapes_the_three_knative_services_by_name() -> None:
    monitor = load_yaml("podmonitor-functions.yaml")
    spec = monitor["spec"]
    assert monitor["kind"] == "PodMonitor"
    # The job label the rules match on (WhooperBackendDown) is the Knative Service's name.
    assert spec["jobLabel"] == "serving.knative.dev/service"
    (expression,) = spec["selector"]["matchExpressions"]
    assert expression == {"key": "serving.knative.dev/service", "operator": "In", "values": FUNCTION_SERVICES}
    assert spec["namespaceSelector"] == {"matchNames": ["whooper"]}
    (endpoint,) = spec["podMetricsEndpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] == "user-port"  # Knative's name for the user container's port (8080)
    backend_down = load_yaml("prometheusrule.yaml")["spec"]["groups"][0]["rules"][0]
    assert backend_down["expr"] == f'up{{job=~"{"|".join(FUNCTION_SERVICES)}"}} == 0'


def test_kustomization_applies_every_resource_manifest() -> None:
    kustomization = load_yaml("kustomization.yaml")
    manifests = {
        str(path.relative_to(MONITORING_DIR))
        for path in MONITORING_DIR.rglob("*.yaml")
        if "tests" not in path.parts and "apiVersion" in (load_yaml(str(path.relative_to(MONITORING_DIR))) or {})
    }
    manifests.discard("kustomization.yaml")
    assert set(kustomization["resources"]) == manifests
    assert "alertmanager.yaml" not in kustomization["resources"], "the plain config is not a resource"
