"""The manifests under ``monitoring/`` as the tests and the demo load them.

The PrometheusRule is the one source of the alert rules: Prometheus outside
Kubernetes (promtool, the test stack, the demo) gets its ``spec.groups``. The
Alertmanager configuration can be pointed at a local receiver. The dashboard
ConfigMap is generated from the dashboard JSON, never edited by hand:

    python -m devstack.monitoring        # rewrites monitoring/dashboards/configmap.yaml
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

MONITORING_DIR = Path(__file__).resolve().parent.parent / "monitoring"
DASHBOARD_JSON = MONITORING_DIR / "dashboards" / "whooper.json"
DASHBOARD_CONFIGMAP = MONITORING_DIR / "dashboards" / "configmap.yaml"


def load_yaml(name: str) -> Any:
    """A YAML file under monitoring/ (e.g. ``prometheusrule.yaml``)."""
    return yaml.safe_load((MONITORING_DIR / name).read_text())


def rule_groups() -> dict[str, Any]:
    """The PrometheusRule's groups as a Prometheus rule file (``{"groups": [...]}``)."""
    rule = load_yaml("prometheusrule.yaml")
    return {"groups": rule["spec"]["groups"]}


def alerting_rules() -> list[dict[str, Any]]:
    """Every alerting rule of the PrometheusRule, in file order."""
    return [rule for group in rule_groups()["groups"] for rule in group["rules"] if "alert" in rule]


def alertmanager_config() -> dict[str, Any]:
    config: dict[str, Any] = load_yaml("alertmanager.yaml")
    return config


def with_webhook_url(config: dict[str, Any], url: str) -> dict[str, Any]:
    """A copy of an Alertmanager config whose webhooks all post to ``url`` without credentials.

    For running the real routing and inhibition outside the cluster, where the
    Knative URL and the mounted token file do not exist.
    """
    local = copy.deepcopy(config)
    for receiver in local.get("receivers", []):
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = url
            webhook.pop("http_config", None)
    return local


def render_dashboard_configmap(dashboard_json: str) -> str:
    """The ConfigMap Grafana's sidecar loads (label ``grafana_dashboard: "1"``) carrying the dashboard verbatim."""
    json.loads(dashboard_json)  # refuse to ship a dashboard Grafana cannot parse
    body = "".join(f"    {line}\n" if line else "\n" for line in dashboard_json.rstrip("\n").split("\n"))
    return (
        "# Generated from whooper.json by `python -m devstack.monitoring`; edit the JSON, not this file.\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: whooper-dashboard\n"
        "  labels:\n"
        '    grafana_dashboard: "1"\n'
        "    app.kubernetes.io/name: whooper\n"
        "    app.kubernetes.io/component: dashboard\n"
        "data:\n"
        "  whooper.json: |-\n"
        f"{body}"
    )


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of the dashboard's panels (rows included) and query variables."""
    panels = list(dashboard.get("panels", []))
    exprs: list[str] = []
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels", []))
        exprs.extend(target["expr"] for target in panel.get("targets", []) if "expr" in target)
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable.get("query")
            exprs.append(query["query"] if isinstance(query, dict) else str(query))
    return exprs


_NOT_METRICS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool"}
_NOT_METRICS |= {"offset", "inf", "nan"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?")


def metric_names(promql: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords and label names left out).

    A lexer, not a parser: enough for the expressions this project writes, where
    every metric stands as a bare name, optionally followed by matchers.
    """
    text = _STRING.sub('""', promql)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers (and Grafana's ${var})
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery windows
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", text)
    text = re.sub(r"\$\w+", " ", text)  # Grafana variables such as $__rate_interval
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.groups()
        if call is None and name.lower() not in _NOT_METRICS:
            names.add(name)
    return names


def main() -> int:
    DASHBOARD_CONFIGMAP.write_text(render_dashboard_configmap(DASHBOARD_JSON.read_text()))
    print(f"wrote {DASHBOARD_CONFIGMAP}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
