"""knative/ builds, and every object it builds is valid for the API server that will receive it, checked offline.

- Core Kubernetes objects: the Kubernetes OpenAPI schemas of ``kubernetes-validate``, strict (unknown fields fail).
- Knative objects: the models ``cloudcoil-models-knative-*`` generate from Knative's own CRD schemas, turned back
  into JSON Schema and made strict the same way, so a misspelt or unsupported field fails here, not on apply.
- Incident objects: the openAPIV3Schema of our CRD, with an Incident as incident-report writes it.
"""

from __future__ import annotations

import copy
import functools
import warnings
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.unit import knative_build as kb
from tests.unit.crd_schemas import strict as _strict

# Knative 1.17 (whose CRD schemas the models are generated from) needs Kubernetes 1.30 or later.
KUBERNETES_VERSIONS = ["1.30", kubernetes_validate.latest_version()]

# Everything `kubectl apply -k knative/` creates (group, kind, name).
EXPECTED = [
    ("", "Namespace", "whooper"),
    ("apiextensions.k8s.io", "CustomResourceDefinition", "incidents.whooper.dev"),
    ("", "ServiceAccount", "alert-webhook"),
    ("", "ServiceAccount", "pod-exporter"),
    ("", "ServiceAccount", "incident-report"),
    ("rbac.authorization.k8s.io", "ClusterRole", "whooper-pod-exporter"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "whooper-pod-exporter"),
    ("rbac.authorization.k8s.io", "ClusterRole", "whooper-incident-report-context"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "whooper-incident-report-context"),
    ("rbac.authorization.k8s.io", "Role", "incident-report"),
    ("rbac.authorization.k8s.io", "RoleBinding", "incident-report"),
    ("", "ConfigMap", "whooper-config"),
    ("", "Secret", "whooper-smtp"),
    ("", "Secret", "whooper-webhook"),
    ("", "Secret", "whooper-gemini"),
    ("serving.knative.dev", "Service", "alert-webhook"),
    ("serving.knative.dev", "Service", "pod-exporter"),
    ("serving.knative.dev", "Service", "incident-report"),
    ("eventing.knative.dev", "Broker", "default"),
    ("eventing.knative.dev", "Trigger", "incident-report-alert-firing"),
    ("eventing.knative.dev", "Trigger", "incident-report-alert-resolved"),
    ("sources.knative.dev", "SinkBinding", "alert-webhook"),
    ("sources.knative.dev", "PingSource", "pod-exporter"),
]
CORE = [e for e in EXPECTED if e[0] in kb.CORE_GROUPS]
KNATIVE = [e for e in EXPECTED if e[0] in kb.KNATIVE_GROUPS]
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}


def _ids(entries: list[tuple[str, str, str]]) -> list[str]:
    return [f"{kind}/{name}" for _, kind, name in entries]


@functools.cache
def _knative_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    # The generated modules warn, at import, that a field named "name" shadows a base-class attribute.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from cloudcoil.models.knative_eventing.eventing import v1 as eventing
        from cloudcoil.models.knative_eventing.sources import v1 as sources
        from cloudcoil.models.knative_serving.serving import v1 as serving
    models = {
        ("serving.knative.dev", "Service"): serving.Service,
        ("eventing.knative.dev", "Broker"): eventing.Broker,
        ("eventing.knative.dev", "Trigger"): eventing.Trigger,
        ("sources.knative.dev", "SinkBinding"): sources.SinkBinding,
        ("sources.knative.dev", "PingSource"): sources.PingSource,
    }
    return {kind: _strict(model.model_json_schema(by_alias=True)) for kind, model in models.items()}


def _knative_errors(obj: dict[str, Any]) -> list[str]:
    schema = _knative_schemas().get((kb.group_of(obj), obj["kind"]))
    assert schema is not None, f"no Knative CRD schema for {obj['apiVersion']} {obj['kind']}"
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(obj)]


def _incident_schema() -> dict[str, Any]:
    crd = kb.find(kb.built(), "CustomResourceDefinition", "incidents.whooper.dev")
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_kustomization_builds_exactly_the_expected_objects() -> None:
    objects = kb.built()
    built = sorted((kb.group_of(o), o["kind"], o["metadata"]["name"]) for o in objects)
    assert built == sorted(EXPECTED)


def test_every_namespaced_object_lands_in_the_whooper_namespace() -> None:
    for obj in kb.built():
        namespace = obj["metadata"].get("namespace")
        if obj["kind"] in CLUSTER_SCOPED:
            assert namespace is None, f"{kb.key(obj)} is cluster-scoped but has namespace {namespace}"
        else:
            assert namespace == kb.NAMESPACE, f"{kb.key(obj)} is in namespace {namespace!r}"


def test_images_are_set_in_one_place() -> None:
    """Every container's image comes from the kustomization's ``images:``, each named once, with a tag."""
    kustomization = yaml.safe_load((kb.KNATIVE_DIR / "kustomization.yaml").read_text(encoding="utf-8"))
    entries = kustomization["images"]
    assert len({e["name"] for e in entries}) == len(entries), "an image is listed twice in images:"
    wanted = {f"{e['newName']}:{e['newTag']}" for e in entries}
    used = {kb.container(service)["image"] for service in kb.knative_services(kb.built())}
    assert used == wanted, f"images in the Services {sorted(used)} are not the kustomization's {sorted(wanted)}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(("group", "kind", "name"), CORE, ids=_ids(CORE))
def test_core_object_validates_against_kubernetes_schema(group: str, kind: str, name: str, version: str) -> None:
    obj = kb.find(kb.built(), kind, name, group)
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{kind}/{name} is not a valid Kubernetes {version} object: {error}")


@pytest.mark.parametrize(("group", "kind", "name"), KNATIVE, ids=_ids(KNATIVE))
def test_knative_object_validates_against_its_crd_schema(group: str, kind: str, name: str) -> None:
    errors = _knative_errors(kb.find(kb.built(), kind, name, group))
    assert not errors, f"{kind}/{name} does not match Knative's CRD schema:\n" + "\n".join(errors)


@pytest.mark.parametrize(
    ("kind", "name", "change"),
    [
        ("Service", "alert-webhook", lambda o: o["spec"]["template"]["spec"].update(containerConcurency=8)),
        ("Service", "pod-exporter", lambda o: o["spec"]["template"]["spec"]["containers"][0].update(lifecycle={})),
        ("Broker", "default", lambda o: o["spec"]["delivery"].update(timeout="PT10S", retry="six")),
        ("Trigger", "incident-report-alert-firing", lambda o: o["spec"].update(subscriber="incident-report")),
        ("PingSource", "pod-exporter", lambda o: o["spec"].update(scheduel="* * * * *")),
    ],
    ids=["misspelt-field", "field-knative-does-not-allow", "flagged-field-and-wrong-type", "wrong-shape", "typo"],
)
def test_the_knative_schema_check_rejects_what_knative_would(kind: str, name: str, change: Any) -> None:
    """Proof the check above has teeth: a field Knative's schema lacks, or of the wrong type, fails."""
    obj = kb.find(kb.built(), kind, name)
    change(obj)
    assert _knative_errors(obj)


def test_the_kubernetes_schema_check_rejects_an_unknown_field() -> None:
    obj = copy.deepcopy(kb.find(kb.built(), "ClusterRole", "whooper-pod-exporter"))
    obj["rules"][0]["verb"] = ["list"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, KUBERNETES_VERSIONS[0], strict=True)


def test_an_incident_as_incident_report_writes_it_fits_the_crd() -> None:
    incident = {
        "apiVersion": "whooper.dev/v1alpha1",
        "kind": "Incident",
        "metadata": {"name": "podcrashlooping-3f2a9c1e", "namespace": "whooper"},
        "spec": {
            "alertname": "PodCrashLooping",
            "fingerprint": "3f2a9c1e5b7d0a44",
            "severity": "critical",
            "namespace": "shop",
            "pod": "checkout-7d9f8b6c5-x2k4q",
            "startsAt": "2026-12-03T13:00:00Z",
            "summary": "checkout restarts: OOMKilled",
            "labels": {"alertname": "PodCrashLooping", "severity": "critical"},
            "annotations": {"summary": "Pod is crash looping"},
        },
        "status": {
            "phase": "Resolved",
            "reportSentAt": "2026-12-03T13:00:12Z",
            "resolvedAt": "2026-12-03T13:20:05Z",
            "endsAt": "2026-12-03T13:20:00Z",
            "mttrSeconds": 1200.0,
            "summarySource": "gemini",
        },
    }
    jsonschema.validate(incident, _incident_schema())


@pytest.mark.parametrize(
    ("path", "value"),
    [(("status", "phase"), "Closed"), (("status", "mttrSeconds"), -5), (("spec", "alertname"), "")],
    ids=["unknown-phase", "negative-mttr", "empty-alertname"],
)
def test_the_incident_crd_rejects_nonsense(path: tuple[str, str], value: Any) -> None:
    incident = {
        "spec": {"alertname": "PodCrashLooping", "fingerprint": "3f2a", "startsAt": "2026-12-03T13:00:00Z"},
        "status": {"phase": "Open"},
    }
    incident[path[0]][path[1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(incident, _incident_schema())
