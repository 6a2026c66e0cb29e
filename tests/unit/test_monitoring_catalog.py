"""No alert and no dashboard panel points at a metric nobody exports, or at a label value or bucket it lacks.

The functions' metrics are read from their real code: alert_webhook and incident_report are built in this
process and driven against servers on loopback (SMTP, an event sink, the Kubernetes API and Gemini stand-ins).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import flask
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from alert_webhook.render import EMAIL_KIND
from alert_webhook.sink import OUTCOMES
from devstack.gemini import GeminiServer
from devstack.kube_api import KubeApiServer, make_pod
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
from devstack.receiver import Receiver
from devstack.smtp import MailCatcher
from incident_report.app import build as build_incident_report
from incident_report.deadletter import KNOWN_TYPES, OTHER_TYPE
from incident_report.report import REPORT, RESOLVED
from incident_report.summarize import NOT_FAILED, OPERATION, SUBJECT_STATUSES, SUBJECT_TYPE, SUMMARY_STATUSES
from pod_exporter.metrics import ExporterMetrics
from tests.alertmanager_payloads import function_client, payload
from tests.incident_report_data import POD_FIRING, alert, binary, event, resolved_after
from tests.pushed_pods import pushed_group
from whooper_common.events import ALERT_TYPES
from whooper_common.mailer import SEND_STATUSES
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


@cache
def _alert_webhook_exposition() -> str:
    """alert_webhook's /metrics after it mailed a firing and a resolved notification and sent their events."""
    token = "catalog-token"
    with MailCatcher() as mail:
        sink = Receiver().start()
        try:
            client = function_client(
                "alert_webhook",
                {
                    "WEBHOOK_BEARER_TOKEN": token,
                    "SMTP_HOST": mail.host,
                    "SMTP_PORT": str(mail.port),
                    "ALERT_EMAIL": "oncall@example.com",
                    "K_SINK": sink.url,
                },
            )
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            for name in ("firing_mixed", "resolved"):
                response = client.post("/", data=json.dumps(payload(name)), headers=headers)
                assert response.status_code == 200, response.get_data(as_text=True)
            return client.get("/metrics").get_data(as_text=True)
        finally:
            sink.stop()


@cache
def _incident_report_exposition() -> str:
    """incident_report's /metrics after an incident opened with a Gemini summary, resolved, and a dead letter."""
    firing = alert(POD_FIRING)
    with (
        KubeApiServer() as kube,
        GeminiServer() as gemini,
        MailCatcher() as mail,
        tempfile.TemporaryDirectory() as tmp,
    ):
        kube.register_custom_resource("whooper.dev", "v1alpha1", "incidents", "Incident")
        kube.add_pod(make_pod(firing.pod, firing.namespace, waiting_reason="CrashLoopBackOff", restarts=2))
        gemini.respond_with(
            json.dumps(
                {
                    "summary": "The pod restarts.",
                    "likely_cause": "",
                    "evidence": [],
                    "next_steps": [],
                    "subject": "pod restarting",
                }
            )
        )
        app = build_incident_report(
            {
                "KUBECONFIG": str(kube.write_kubeconfig(Path(tmp) / "kubeconfig")),
                "SMTP_HOST": mail.host,
                "SMTP_PORT": str(mail.port),
                "ALERT_EMAIL": "oncall@example.com",
                "GEMINI_API_KEY": gemini.api_key,
                "GEMINI_BASE_URL": gemini.base_url,
            }
        )
        server = flask.Flask("catalog")
        server.add_url_rule("/<path:path>", "any", lambda path: app(flask.request), methods=["GET", "POST"])
        server.add_url_rule("/", "root", lambda: app(flask.request), methods=["POST"])
        client = server.test_client()
        for cloud_event, route in (
            (event(POD_FIRING), "/"),
            (resolved_after(POD_FIRING, 5400), "/"),
            (event(POD_FIRING), "/dead-letter"),
        ):
            headers, body = binary(cloud_event)
            response = client.post(route, data=body, headers=headers)
            assert response.status_code < 300, response.get_data(as_text=True)
        return client.get("/metrics").get_data(as_text=True)


# Sources whose code is in the repository, and what they export.
IMPLEMENTED_SOURCES: dict[str, Callable[[], str]] = {
    "all functions": _all_functions_exposition,
    "pod_exporter": _pod_exporter_exposition,
    "pod_exporter push": lambda: pushed_group(finished_at=1_764_752_400.0),
    "alert_webhook": _alert_webhook_exposition,
    "incident_report": _incident_report_exposition,
}


def _sources(entry: dict[str, Any]) -> set[str]:
    return {entry["source"], *entry.get("also", [])}


@pytest.mark.parametrize("source", sorted(IMPLEMENTED_SOURCES))
def test_catalogued_metrics_come_out_of_their_source_with_their_labels(source: str) -> None:
    exported = _exported(IMPLEMENTED_SOURCES[source]())
    for name, entry in CATALOG.items():
        if source not in _sources(entry):
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


# Every closed list of label values of alert_webhook's and incident_report's metrics, as their code defines it.
CODE_LABEL_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("whooper_ai_summary_requests_total", "status"): SUMMARY_STATUSES,
    ("whooper_ai_subject_suggestion_requests_total", "status"): SUBJECT_STATUSES,
    ("whooper_ai_subject_suggestion_requests_total", "type"): (SUBJECT_TYPE,),
    ("whooper_ai_api_latency_seconds", "operation"): (OPERATION,),
    ("whooper_emails_sent_total", "status"): SEND_STATUSES,
    ("whooper_emails_sent_total", "type"): (EMAIL_KIND, REPORT, RESOLVED),
    ("whooper_cloudevents_sent_total", "outcome"): OUTCOMES,
    ("whooper_cloudevents_sent_total", "type"): tuple(ALERT_TYPES.values()),
    ("whooper_events_dead_lettered_total", "type"): (*KNOWN_TYPES, OTHER_TYPE),
}


@pytest.mark.parametrize(("metric", "label"), sorted(CODE_LABEL_VALUES))
def test_catalogued_label_values_are_the_ones_the_code_emits(metric: str, label: str) -> None:
    catalogued = CATALOG[metric].get("values", {}).get(label)
    assert isinstance(catalogued, list), f"{metric}{{{label}}} has no closed list of values in the catalog"
    assert sorted(catalogued) == sorted(CODE_LABEL_VALUES[metric, label])


def test_every_closed_value_list_of_the_functions_is_checked_against_their_code() -> None:
    closed = {
        (name, label)
        for name, entry in CATALOG.items()
        if _sources(entry) & {"alert_webhook", "incident_report"}
        for label, values in entry.get("values", {}).items()
        if isinstance(values, list)
    }
    assert closed == set(CODE_LABEL_VALUES)


def _selects(op: str, pattern: str, value: str) -> bool:
    """Whether a PromQL label matcher selects ``value`` (regular expressions are anchored)."""
    return {
        "=": value == pattern,
        "!=": value != pattern,
        "=~": re.fullmatch(pattern, value) is not None,
        "!~": re.fullmatch(pattern, value) is None,
    }[op]


def test_gemini_api_errors_counts_every_failure_status_and_nothing_else() -> None:
    (rule,) = [rule for rule in alerting_rules() if rule["alert"] == "GeminiAPIErrors"]
    matchers = [(op, value) for metric, label, op, value in label_matchers(rule["expr"]) if label == "status"]
    assert len(matchers) == 1, matchers  # the failures, over the unfiltered total
    op, pattern = matchers[0]
    counted = {status for status in SUMMARY_STATUSES if _selects(op, pattern, status)}
    assert counted == set(SUMMARY_STATUSES) - NOT_FAILED
    assert {"timeout", "rate_limited", "circuit_open", "error"} <= counted  # a guard on NOT_FAILED itself


def test_a_fresh_incident_report_has_its_alert_series_at_zero(tmp_path: Path) -> None:
    """increase() and rate() see no first sample of a new series: the first dead letter or failure must be a step."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({"clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}]}))
    registry = build_incident_report(
        {"KUBECONFIG": str(kubeconfig), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": "9", "ALERT_EMAIL": "a@b.c"}
    ).registry
    for event_type in ALERT_TYPES.values():
        assert registry.get_sample_value("whooper_events_dead_lettered_total", {"type": event_type}) == 0.0
    for status in SUMMARY_STATUSES:
        assert registry.get_sample_value("whooper_ai_summary_requests_total", {"status": status}) == 0.0


_THRESHOLD = re.compile(r"\)\s*>\s*([0-9.]+)\s*$")


def _bucket_bounds(base: str) -> set[float]:
    """The ``le`` boundaries a histogram really has, read from its source's exposition."""
    exported = _exported(IMPLEMENTED_SOURCES[CATALOG[base]["source"]]())
    return {float(value) for labels in exported[f"{base}_bucket"] for label, value in labels if label == "le"}


def _quantile_thresholds() -> list[tuple[str, str, float]]:
    """(alert, histogram, threshold) of every rule comparing a histogram_quantile with a number."""
    found = []
    for rule in alerting_rules():
        threshold = _THRESHOLD.search(rule["expr"].strip())
        if "histogram_quantile(" in rule["expr"] and threshold:
            for name in sorted(metric_names(rule["expr"])):
                base = _catalogued(name)
                if base is not None and name.endswith("_bucket"):
                    found.append((rule["alert"], base, float(threshold.group(1))))
    return found


def test_the_rules_compare_histogram_quantiles_with_numbers() -> None:
    """A guard on the parser: the three latency and MTTR alerts are found."""
    assert {(alert, base) for alert, base, _ in _quantile_thresholds()} >= {
        ("WhooperSlowRequests", "whooper_http_request_duration_seconds"),
        ("SlowAIResponses", "whooper_ai_api_latency_seconds"),
        ("HighMTTR", "whooper_incident_mttr_seconds"),
    }


@pytest.mark.parametrize(("alert", "histogram", "threshold"), _quantile_thresholds())
def test_a_quantile_threshold_is_a_bucket_boundary_of_its_histogram(
    alert: str, histogram: str, threshold: float
) -> None:
    """Between two boundaries histogram_quantile only interpolates: the threshold must be one of them."""
    assert threshold in CATALOG[histogram]["buckets"], f"{alert}: the catalog does not list bucket {threshold}"
    assert threshold in _bucket_bounds(histogram), f"{alert}: {histogram} has no bucket le={threshold}"


@pytest.mark.parametrize("histogram", sorted(name for name, entry in CATALOG.items() if "buckets" in entry))
def test_catalogued_bucket_boundaries_are_in_the_code(histogram: str) -> None:
    assert CATALOG[histogram]["source"] in IMPLEMENTED_SOURCES
    assert set(map(float, CATALOG[histogram]["buckets"])) <= _bucket_bounds(histogram)
