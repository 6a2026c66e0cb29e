"""No alert and no dashboard panel points at a metric nobody exports (no network)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from devstack.monitoring import (
    DASHBOARD_CONFIGMAP,
    DASHBOARD_JSON,
    alerting_rules,
    dashboard_exprs,
    label_matchers,
    load_yaml,
    metric_names,
    render_dashboard_configmap,
)
from pod_exporter.metrics import ExporterMetrics
from tests.pushed_pods import pushed_group
from whooper_common.metrics import HttpMetrics, new_registry

FUNCTIONS = {"all functions", "alert_webhook", "incident_report", "pod_exporter", "pod_exporter push"}
EXTERNAL = {"Pushgateway", "kube-state-metrics", "cAdvisor", "Prometheus"}
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")

CATALOG: dict[str, dict[str, Any]] = load_yaml("metrics-catalog.yaml")["metrics"]
DASHBOARD: dict[str, Any] = json.loads(DASHBOARD_JSON.read_text())


def _catalogued(series: str) -> str | None:
    """The catalog entry a series name belongs to (a histogram's _bucket/_sum/_count included)."""
    if series in CATALOG:
        return series
    for suffix in HISTOGRAM_SERIES:
        base = series.removesuffix(suffix)
        if base != series and CATALOG.get(base, {}).get("type") == "histogram":
            return base
    return None


def _named_in_rules() -> dict[str, set[str]]:
    return {rule["alert"]: metric_names(rule["expr"]) for rule in alerting_rules()}


def test_catalog_names_a_known_source_for_every_metric() -> None:
    for name, entry in CATALOG.items():
        assert entry["source"] in FUNCTIONS | EXTERNAL, f"{name}: unknown source {entry['source']!r}"
        assert entry["type"] in {"counter", "gauge", "histogram"}, name
        assert name.startswith("whooper_") == (entry["source"] in FUNCTIONS), f"{name}: prefix and source disagree"


@pytest.mark.parametrize(("alert", "names"), sorted(_named_in_rules().items()))
def test_every_metric_an_alert_names_is_catalogued(alert: str, names: set[str]) -> None:
    missing = {name for name in names if _catalogued(name) is None}
    assert not missing, f"{alert} names metrics nobody exports: {sorted(missing)}"


def test_every_metric_a_dashboard_panel_names_is_catalogued() -> None:
    exprs = dashboard_exprs(DASHBOARD)
    assert exprs, "the dashboard has no queries"
    names = set().union(*(metric_names(expr) for expr in exprs))
    missing = {name for name in names if _catalogued(name) is None}
    assert not missing, f"the dashboard names metrics nobody exports: {sorted(missing)}"


# Labels Prometheus attaches to every scraped series (PodMonitor/ServiceMonitor target labels).
TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "endpoint", "service", "metrics_path"}


def _all_exprs() -> list[str]:
    return [rule["expr"] for rule in alerting_rules()] + dashboard_exprs(DASHBOARD)


@pytest.mark.parametrize("expr", _all_exprs())
def test_every_label_matcher_names_a_label_and_value_the_metric_has(expr: str) -> None:
    for metric, label, op, value in label_matchers(expr):
        base = _catalogued(metric)
        assert base is not None, metric
        entry = CATALOG[base]
        known = set(entry["labels"]) | TARGET_LABELS | ({"le"} if metric.endswith("_bucket") else set())
        assert label in known, f"{metric} has no label {label!r}"
        values = entry.get("values", {}).get(label)
        if op == "=" and isinstance(values, list):
            assert value in values, f"{metric}{{{label}={value!r}}} matches none of {values}"


def test_label_matchers_reads_every_matcher() -> None:
    assert label_matchers('a{x="1", y=~"2|3"} / b{z!=""}') == [
        ("a", "x", "=", "1"),
        ("a", "y", "=~", "2|3"),
        ("b", "z", "!=", ""),
    ]


def test_the_rules_and_the_dashboard_use_the_external_sources_they_are_meant_to() -> None:
    """A guard on the checker itself: it does find metrics, external ones included."""
    named = set().union(*_named_in_rules().values())
    sources = {CATALOG[base]["source"] for base in filter(None, map(_catalogued, named))}
    assert sources >= EXTERNAL


def _exported(exposition: str) -> dict[str, set[frozenset[tuple[str, str]]]]:
    """Sample name -> the label sets it is exported with."""
    found: dict[str, set[frozenset[tuple[str, str]]]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found.setdefault(sample.name, set()).add(frozenset(sample.labels.items()))
    return found


def _all_functions_exposition() -> str:
    registry = new_registry()
    HttpMetrics(registry).observe("POST", "/", 200, 0.01)
    return generate_latest(registry).decode()


def _pod_exporter_exposition() -> str:
    registry = CollectorRegistry()
    ExporterMetrics(registry)
    return generate_latest(registry).decode()


# Sources whose code is in the repository, and what they export.
IMPLEMENTED_SOURCES = {
    "all functions": _all_functions_exposition,
    "pod_exporter": _pod_exporter_exposition,
    "pod_exporter push": lambda: pushed_group(finished_at=1_764_752_400.0),
}


@pytest.mark.parametrize("source", sorted(IMPLEMENTED_SOURCES))
def test_catalogued_metrics_come_out_of_their_source_with_their_labels(source: str) -> None:
    exported = _exported(IMPLEMENTED_SOURCES[source]())
    for name, entry in CATALOG.items():
        if entry["source"] != source:
            continue
        sample = f"{name}_bucket" if entry["type"] == "histogram" else name
        assert sample in exported, f"{name} is catalogued for {source}, which does not export it"
        wanted = set(entry["labels"]) | ({"le"} if entry["type"] == "histogram" else set())
        for labels in exported[sample]:
            assert {label for label, _ in labels} == wanted, f"{name} is exported with labels {sorted(labels)}"
            for label, value in labels:
                closed = entry.get("values", {}).get(label)
                if isinstance(closed, list):
                    assert value in closed, f"{name}{{{label}={value!r}}} is not among the catalogued {closed}"


@pytest.mark.parametrize(
    ("promql", "expected"),
    [
        ('sum by (job) (rate(whooper_http_requests_total{status=~"5.."}[5m]))', {"whooper_http_requests_total"}),
        ('time() - max by (job) (push_time_seconds{job="x"}) > 300', {"push_time_seconds"}),
        ("a / on (namespace, pod) group_left b > 0.9", {"a", "b"}),
        ('absent(up{job="x"}) or vector(1)', {"up"}),
        ("x unless x offset 10m", {"x"}),
        ("rate(c_total[$__rate_interval]) * 1e3", {"c_total"}),
        ('histogram_quantile(0.95, sum by (le) (rate(h_bucket{severity="critical"}[6h])))', {"h_bucket"}),
    ],
)
def test_metric_names_finds_the_selected_metrics_only(promql: str, expected: set[str]) -> None:
    assert metric_names(promql) == expected


def test_dashboard_configmap_is_generated_from_the_json() -> None:
    """What is committed is what is tested: regenerate with ``python -m devstack.monitoring``."""
    assert DASHBOARD_CONFIGMAP.read_text() == render_dashboard_configmap(DASHBOARD_JSON.read_text())
    configmap = load_yaml("dashboards/configmap.yaml")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["whooper.json"]) == DASHBOARD


def test_dashboard_defaults_and_datasource_variable() -> None:
    assert DASHBOARD["refresh"] == "10s"
    assert DASHBOARD["time"] == {"from": "now-1h", "to": "now"}
    (variable,) = [v for v in DASHBOARD["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"]["uid"] == f"${{{variable['name']}}}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == f"${{{variable['name']}}}", panel["title"]


def _panel(title: str) -> dict[str, Any]:
    (panel,) = [p for p in DASHBOARD["panels"] if p["title"] == title]
    return panel


@pytest.mark.parametrize(
    ("title", "metric"),
    [
        ("Total pods", "whooper_pods_total"),
        ("Running", "whooper_pods_running"),
        ("Pending", "whooper_pods_pending"),
        ("Failed", "whooper_pods_failed"),
    ],
)
def test_dashboard_pod_status_stats(title: str, metric: str) -> None:
    panel = _panel(title)
    assert panel["type"] == "stat"
    assert [metric_names(t["expr"]) for t in panel["targets"]] == [{metric}]


@pytest.mark.parametrize(
    ("title", "metric"),
    [
        ("Pod status over time", "whooper_pods_failed"),
        ("HTTP requests by status", "whooper_http_requests_total"),
        ("Memory (resident) per function pod", "whooper_process_resident_memory_bytes"),
        ("CPU per function pod", "whooper_process_cpu_seconds_total"),
        ("Request latency p50 / p95", "whooper_http_request_duration_seconds_bucket"),
        ("Email send rate", "whooper_emails_sent_total"),
        ("Alert trigger rate by severity", "whooper_alerts_triggered_total"),
    ],
)
def test_dashboard_time_series_panels(title: str, metric: str) -> None:
    panel = _panel(title)
    assert panel["type"] == "timeseries"
    assert any(metric in metric_names(t["expr"]) for t in panel["targets"])


def test_dashboard_memory_and_cpu_show_mean_and_max() -> None:
    for title in ("Memory (resident) per function pod", "CPU per function pod"):
        assert {"mean", "max"} <= set(_panel(title)["options"]["legend"]["calcs"]), title


def test_dashboard_latency_shows_p50_and_p95() -> None:
    exprs = [t["expr"] for t in _panel("Request latency p50 / p95")["targets"]]
    assert [expr.split(",")[0] for expr in exprs] == ["histogram_quantile(0.5", "histogram_quantile(0.95"]


def test_dashboard_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
