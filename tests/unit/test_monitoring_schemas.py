"""monitoring/ builds with kustomize, and each prometheus-operator resource fits its CRD schema (no network)."""

from __future__ import annotations

import functools
import subprocess
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from devstack.monitoring import MONITORING_DIR, load_yaml
from tests.unit.crd_schemas import schema_errors, strict
from tests.unit.knative_build import kubectl

RESOURCES = {
    "prometheusrule.yaml": ("v1", "PrometheusRule"),
    "servicemonitor-pushgateway.yaml": ("v1", "ServiceMonitor"),
    "podmonitor-functions.yaml": ("v1", "PodMonitor"),
    "alertmanagerconfig.yaml": ("v1alpha1", "AlertmanagerConfig"),
}


class _KubeYamlLoader(yaml.SafeLoader):
    """YAML as Kubernetes reads it: a bare ``=`` (kustomize writes ``matchType: =``) is a string.

    PyYAML follows YAML 1.1, where ``=`` is the "value" key type and has no constructor.
    """


_KubeYamlLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


@functools.cache
def _built() -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(MONITORING_DIR)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize monitoring/ failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.load_all(result.stdout, Loader=_KubeYamlLoader) if doc)


@functools.cache
def _schema(version: str, kind: str) -> dict[str, Any]:
    # The generated modules warn, at import, that a field named "name" shadows a base-class attribute.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from cloudcoil.models.prometheus_operator import v1, v1alpha1
    model = getattr({"v1": v1, "v1alpha1": v1alpha1}[version], kind)
    schema: dict[str, Any] = strict(model.model_json_schema(by_alias=True))
    return schema


def test_kustomize_builds_every_resource_into_the_monitoring_namespace() -> None:
    built = sorted((obj["kind"], obj["metadata"]["name"], obj["metadata"]["namespace"]) for obj in _built())
    assert built == [
        ("AlertmanagerConfig", "whooper", "monitoring"),
        ("ConfigMap", "whooper-dashboard", "monitoring"),
        ("PodMonitor", "whooper-functions", "monitoring"),
        ("PrometheusRule", "whooper", "monitoring"),
        ("ServiceMonitor", "whooper-pushgateway", "monitoring"),
    ]
    for obj in _built():
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "whooper"


def test_kustomize_keeps_the_alertmanagerconfig_as_written() -> None:
    """YAML anchors are expanded and matchers keep their operators through the build."""
    (built,) = [obj for obj in _built() if obj["kind"] == "AlertmanagerConfig"]
    assert built["spec"] == load_yaml("alertmanagerconfig.yaml")["spec"]


@pytest.mark.parametrize("kind", sorted({kind for _, kind in RESOURCES.values()}))
def test_built_resource_fits_its_crd_schema(kind: str) -> None:
    (version,) = {v for v, k in RESOURCES.values() if k == kind}
    (obj,) = [obj for obj in _built() if obj["kind"] == kind]
    assert obj["apiVersion"] == f"monitoring.coreos.com/{version}"
    errors = schema_errors(obj, _schema(version, kind))
    assert not errors, f"{kind} does not match prometheus-operator's CRD schema:\n" + "\n".join(errors)


def _misspell_max_alerts(obj: dict[str, Any]) -> None:
    obj["spec"]["receivers"][0]["webhookConfigs"] = [{"url": "http://x/", "maxAlert": 5}]


def _for_as_number(obj: dict[str, Any]) -> None:
    obj["spec"]["groups"][0]["rules"][0]["for"] = 5


def _honor_labels_as_string(obj: dict[str, Any]) -> None:
    obj["spec"]["endpoints"][0]["honorLabels"] = "yes"


@pytest.mark.parametrize(
    ("file", "change"),
    [
        ("alertmanagerconfig.yaml", _misspell_max_alerts),
        ("prometheusrule.yaml", _for_as_number),
        ("servicemonitor-pushgateway.yaml", _honor_labels_as_string),
    ],
    ids=["misspelt-field", "wrong-type", "wrong-type-nested"],
)
def test_the_schema_check_rejects_what_the_api_server_would(
    file: str, change: Callable[[dict[str, Any]], None]
) -> None:
    obj = load_yaml(file)
    change(obj)
    assert schema_errors(obj, _schema(*RESOURCES[file]))
