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

from devstack.engine import debian_tool

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


# Where prometheus-operator mounts a Secret listed in the Alertmanager's spec.secrets.
ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets"

_ROUTE_KEYS = {
    "receiver": "receiver",
    "groupBy": "group_by",
    "groupWait": "group_wait",
    "groupInterval": "group_interval",
    "repeatInterval": "repeat_interval",
    "continue": "continue",
}


def _matchers(matchers: list[dict[str, str]]) -> list[str]:
    return [f'{m["name"]}{m.get("matchType", "=")}"{m["value"]}"' for m in matchers]


def _plain_route(route: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = {}
    for key, value in route.items():
        if key in _ROUTE_KEYS:
            plain[_ROUTE_KEYS[key]] = value
        elif key == "matchers":
            plain["matchers"] = _matchers(value)
        elif key == "routes":
            plain["routes"] = [_plain_route(child) for child in value]
        else:
            raise ValueError(f"AlertmanagerConfig route field {key!r} has no translation here")
    return plain


def _plain_webhook(webhook: dict[str, Any]) -> dict[str, Any]:
    unknown = set(webhook) - {"url", "sendResolved", "maxAlerts", "httpConfig"}
    if unknown:
        raise ValueError(f"AlertmanagerConfig webhook fields {sorted(unknown)} have no translation here")
    plain: dict[str, Any] = {"url": webhook["url"]}
    if "sendResolved" in webhook:
        plain["send_resolved"] = webhook["sendResolved"]
    if "maxAlerts" in webhook:
        plain["max_alerts"] = webhook["maxAlerts"]
    authorization = webhook.get("httpConfig", {}).get("authorization")
    if authorization:
        secret = authorization["credentials"]
        plain["http_config"] = {
            "authorization": {
                "type": authorization.get("type", "Bearer"),
                "credentials_file": f"{ALERTMANAGER_SECRETS_DIR}/{secret['name']}/{secret['key']}",
            }
        }
    return plain


def alertmanagerconfig_as_plain(resource: dict[str, Any]) -> dict[str, Any]:
    """An AlertmanagerConfig (v1alpha1) as the plain configuration it stands for, without ``global``.

    A Secret key reference becomes the file where the same Secret is mounted when it is listed in
    the Alertmanager's ``spec.secrets``, so both forms of Whooper's configuration compare equal.
    """
    spec = resource["spec"]
    unknown = set(spec) - {"route", "receivers", "inhibitRules"}
    if unknown:
        raise ValueError(f"AlertmanagerConfig fields {sorted(unknown)} have no translation here")
    receivers = []
    for receiver in spec["receivers"]:
        plain: dict[str, Any] = {"name": receiver["name"]}
        if "webhookConfigs" in receiver:
            plain["webhook_configs"] = [_plain_webhook(webhook) for webhook in receiver["webhookConfigs"]]
        receivers.append(plain)
    inhibit_rules = [
        {
            "source_matchers": _matchers(rule["sourceMatch"]),
            "target_matchers": _matchers(rule["targetMatch"]),
            "equal": rule["equal"],
        }
        for rule in spec.get("inhibitRules", [])
    ]
    return {"route": _plain_route(spec["route"]), "receivers": receivers, "inhibit_rules": inhibit_rules}


def promtool() -> Path:
    return debian_tool("prometheus", "promtool")


def amtool() -> Path:
    return debian_tool("prometheus-alertmanager", "amtool")


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


_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def label_matchers(promql: str) -> list[tuple[str, str, str, str]]:
    """Every ``metric{label op "value"}`` matcher of an expression, as (metric, label, op, value)."""
    return [(metric, *matcher) for metric, body in _SELECTOR.findall(promql) for matcher in _MATCHER.findall(body)]


def main() -> int:
    DASHBOARD_CONFIGMAP.write_text(render_dashboard_configmap(DASHBOARD_JSON.read_text()))
    print(f"wrote {DASHBOARD_CONFIGMAP}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
