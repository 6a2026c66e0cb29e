"""What knative/ promises an operator: hardened pods, least privilege, no secret in git, and the wiring of the flow."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from tests.unit import knative_build as kb

SERVICES = sorted(kb.FUNCTION_SERVICES)
DEAD_LETTER = {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "incident-report"}}
PLACEHOLDER = "REPLACE_ME"
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|API_KEY|CREDENTIAL", re.IGNORECASE)

# Every permission a function's ServiceAccount may hold: (scope, apiGroup, resource, verb).
# "cluster" is granted through a ClusterRoleBinding, "whooper" through a RoleBinding in that namespace.
ALLOWED: dict[str, set[tuple[str, str, str, str]]] = {
    "alert-webhook": set(),
    "pod-exporter": {("cluster", "", "pods", "list")},
    "incident-report": {
        ("cluster", "", "pods", "get"),
        ("cluster", "", "pods/log", "get"),
        ("cluster", "", "events", "list"),
        *{
            ("whooper", "whooper.dev", resource, verb)
            for resource in ("incidents", "incidents/status")
            for verb in ("get", "create", "patch")
        },
    },
}


def _service(name: str) -> dict[str, Any]:
    return kb.find(kb.built(), "Service", name, "serving.knative.dev")


# Hardening


def test_the_functions_are_the_only_pods() -> None:
    """So the hardening check, run on each function's pod, covers every pod the build would start."""
    assert sorted(pod for pod, _ in kb.pod_specs(kb.built())) == [f"Service/{name}" for name in SERVICES]


@pytest.mark.parametrize("pod", [f"Service/{name}" for name in SERVICES])
def test_every_pod_is_hardened(pod: str) -> None:
    spec = dict(kb.pod_specs(kb.built()))[pod]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(forbidden), f"{pod} sets {forbidden}"
    assert all(set(v) <= {"name", "emptyDir", "configMap", "secret", "projected"} for v in volumes.values()), (
        f"{pod} mounts a volume kind beyond emptyDir/configMap/secret/projected: {volumes}"
    )
    for container in spec["containers"] + spec.get("initContainers", []):
        where = f"{pod} container {container['name']}"
        context = {**spec.get("securityContext", {}), **container.get("securityContext", {})}
        assert context.get("runAsNonRoot") is True, f"{where}: runAsNonRoot must be true"
        assert context.get("runAsUser") == 10001, f"{where}: runAsUser must be the images' user 10001"
        assert context.get("readOnlyRootFilesystem") is True, f"{where}: the root filesystem must be read-only"
        assert context.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation must be false"
        assert not context.get("privileged"), f"{where}: must not be privileged"
        assert context.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: must drop ALL capabilities"
        assert not context.get("capabilities", {}).get("add"), f"{where}: must add no capability"
        assert context.get("seccompProfile") == {"type": "RuntimeDefault"}, f"{where}: seccomp must be RuntimeDefault"
        tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        assert len(tmp) == 1, f"{where}: /tmp must be mounted (the root filesystem is read-only)"
        assert "emptyDir" in volumes.get(tmp[0]["name"], {}), f"{where}: /tmp must be an emptyDir"


def _pod(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = _service(name)["spec"]["template"]["spec"]
    return spec


# The Services


@pytest.mark.parametrize("name", SERVICES)
def test_service_serves_on_8080_with_health_probes_and_resources(name: str) -> None:
    container = kb.container(_service(name))
    assert container["ports"] == [{"containerPort": 8080}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz", f"{name} {probe} must check /healthz"
    for bound in ("requests", "limits"):
        assert set(container["resources"][bound]) == {"cpu", "memory"}, f"{name} needs cpu and memory {bound}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_passes_knatives_admission_rules(name: str) -> None:
    """Rules Knative's webhook enforces that its CRD schema does not express (serving's k8s_validation.go)."""
    pod = _pod(name)
    container = kb.container(_service(name))
    assert [p.get("name", "") for p in container["ports"]] in ([""], ["http1"], ["h2c"]), "one port, no custom name"
    for probe in ("readinessProbe", "livenessProbe"):
        port = container[probe]["httpGet"].get("port")
        assert port in (None, 8080), f"{name} {probe}: a probe port must be unset or the container port"
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounted = {m["name"] for m in container.get("volumeMounts", [])}
    assert set(volumes) == mounted, f"{name}: every volume must be mounted and every mount have a volume"
    for mount in container.get("volumeMounts", []):
        assert mount["mountPath"] not in {"/", "/dev", "/dev/log"}, f"{name}: {mount['mountPath']} is reserved"
        if "emptyDir" not in volumes[mount["name"]]:
            assert mount.get("readOnly") is True, f"{name}: only emptyDir mounts may be writable"
    capabilities = container.get("securityContext", {}).get("capabilities", {})
    assert set(capabilities.get("add", [])) <= {"NET_BIND_SERVICE"}, f"{name}: Knative refuses other capabilities"


@pytest.mark.parametrize("name", SERVICES)
def test_service_sizes_gunicorn_explicitly(name: str) -> None:
    """functions-framework's default THREADS is 4 per CPU of the node: explicit keeps a pod's load predictable."""
    env = {e["name"]: e for e in kb.container(_service(name))["env"]}
    workers, threads = int(env["WORKERS"]["value"]), int(env["THREADS"]["value"])
    assert workers >= 1
    assert threads >= 1
    concurrency = _pod(name).get("containerConcurrency", 0)
    assert 0 < concurrency <= workers * threads, f"{name}: Knative may send more requests than gunicorn can serve"


@pytest.mark.parametrize("name", SERVICES)
def test_service_runs_as_its_own_service_account(name: str) -> None:
    assert _pod(name)["serviceAccountName"] == name
    kb.find(kb.built(), "ServiceAccount", name)


@pytest.mark.parametrize("name", SERVICES)
def test_functions_are_reachable_only_inside_the_cluster(name: str) -> None:
    assert _service(name)["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"


def test_alert_webhook_never_waits_for_a_cold_start() -> None:
    annotations = _service("alert-webhook")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["autoscaling.knative.dev/min-scale"] == "1"


def test_alert_webhook_has_no_kubernetes_credentials() -> None:
    assert kb.find(kb.built(), "ServiceAccount", "alert-webhook")["automountServiceAccountToken"] is False
    assert _pod("alert-webhook")["automountServiceAccountToken"] is False


# RBAC


def _granted() -> dict[str, set[tuple[str, str, str, str]]]:
    objects = kb.built()
    roles = {(o["kind"], o["metadata"]["name"]): o for o in objects if o["kind"] in {"Role", "ClusterRole"}}
    granted: dict[str, set[tuple[str, str, str, str]]] = {}
    for binding in kb.of_kind(objects, "ClusterRoleBinding") + kb.of_kind(objects, "RoleBinding"):
        ref = binding["roleRef"]
        role = roles[(ref["kind"], ref["name"])]
        scope = "cluster" if binding["kind"] == "ClusterRoleBinding" else binding["metadata"]["namespace"]
        for subject in binding["subjects"]:
            assert subject["kind"] == "ServiceAccount", f"{kb.key(binding)} binds a {subject['kind']}"
            assert subject.get("namespace") == kb.NAMESPACE, f"{kb.key(binding)} binds an account outside whooper"
            for rule in role.get("rules", []):
                assert "nonResourceURLs" not in rule, f"{kb.key(role)}: {rule}"
                assert "resourceNames" not in rule, f"{kb.key(role)}: {rule}"
                granted.setdefault(subject["name"], set()).update(
                    (scope, group, resource, verb)
                    for group in rule["apiGroups"]
                    for resource in rule["resources"]
                    for verb in rule["verbs"]
                )
    return granted


def test_no_rbac_rule_uses_a_wildcard() -> None:
    for role in kb.of_kind(kb.built(), "Role") + kb.of_kind(kb.built(), "ClusterRole"):
        for rule in role.get("rules", []):
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(field, []), f"{kb.key(role)} grants * in {field}"
        assert "aggregationRule" not in role, f"{kb.key(role)} aggregates other roles"


@pytest.mark.parametrize("account", sorted(ALLOWED))
def test_each_function_gets_exactly_the_permissions_it_needs(account: str) -> None:
    granted = _granted().get(account, set())
    assert granted - ALLOWED[account] == set(), f"{account} is granted more than it needs"
    assert ALLOWED[account] - granted == set(), f"{account} lacks a permission its function uses"


def test_no_binding_grants_anything_to_an_account_we_do_not_run() -> None:
    assert set(_granted()) <= set(ALLOWED)


# Secrets


def test_secrets_carry_only_placeholders() -> None:
    secrets = kb.of_kind(kb.built(), "Secret")
    assert {s["metadata"]["name"] for s in secrets} == {"whooper-smtp", "whooper-webhook", "whooper-gemini"}
    for secret in secrets:
        values = dict(secret.get("stringData", {}))
        values |= {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
        assert values, f"{kb.key(secret)} is empty: the template should list the keys to set"
        real = {k for k, v in values.items() if v != PLACEHOLDER}
        assert not real, f"{kb.key(secret)} holds a value other than {PLACEHOLDER} for {sorted(real)}"


def test_no_secret_is_set_inline_or_in_the_configmap() -> None:
    config = kb.find(kb.built(), "ConfigMap", "whooper-config")["data"]
    assert not [k for k in config if SECRET_NAME.search(k)], "a secret-looking key is in the ConfigMap"
    for name in SERVICES:
        for entry in kb.container(_service(name))["env"]:
            if SECRET_NAME.search(entry["name"]):
                assert "secretKeyRef" in entry.get("valueFrom", {}), f"{name}: {entry['name']} must come from a Secret"


@pytest.mark.parametrize("name", SERVICES)
def test_every_reference_in_a_services_env_exists(name: str) -> None:
    """A key missing from the ConfigMap or a Secret would keep the revision from starting."""
    objects = kb.built()
    for entry in kb.container(_service(name))["env"]:
        source = entry.get("valueFrom", {})
        for ref_kind, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            if ref_kind in source:
                ref = source[ref_kind]
                target = kb.find(objects, kind, ref["name"])
                keys = set(target.get("data", {})) | set(target.get("stringData", {}))
                assert ref["key"] in keys, f"{name}: {entry['name']} refers to {kind}/{ref['name']} key {ref['key']}"


# Eventing


def _delivery_is_retried_then_dead_lettered(owner: str, delivery: dict[str, Any]) -> None:
    assert delivery["retry"] >= 3, f"{owner}: retry a transient failure more than {delivery['retry']} times"
    assert delivery["backoffPolicy"] == "exponential", f"{owner}: back off exponentially"
    assert re.fullmatch(r"PT\d+(\.\d+)?S", delivery["backoffDelay"]), f"{owner}: backoffDelay is an ISO 8601 duration"
    assert delivery["deadLetterSink"] == {**DEAD_LETTER, "uri": "/dead-letter"}, f"{owner}: dead letters"


def test_broker_retries_and_dead_letters_to_incident_report() -> None:
    broker = kb.find(kb.built(), "Broker", "default", "eventing.knative.dev")
    _delivery_is_retried_then_dead_lettered("Broker/default", broker["spec"]["delivery"])


@pytest.mark.parametrize("event_type", ["dev.whooper.alert.firing", "dev.whooper.alert.resolved"])
def test_alert_events_reach_incident_report(event_type: str) -> None:
    triggers = [
        t
        for t in kb.of_kind(kb.built(), "Trigger", "eventing.knative.dev")
        if t["spec"]["filter"]["attributes"] == {"type": event_type}
    ]
    assert len(triggers) == 1, f"one Trigger should route {event_type}, found {len(triggers)}"
    spec = triggers[0]["spec"]
    assert spec["broker"] == "default"
    assert spec["subscriber"] == DEAD_LETTER, f"{event_type} must go to the incident-report Service's /"
    _delivery_is_retried_then_dead_lettered(kb.key(triggers[0]), spec["delivery"])


def test_alert_webhook_sends_its_events_to_the_broker() -> None:
    binding = kb.find(kb.built(), "SinkBinding", "alert-webhook")["spec"]
    assert binding["subject"] == {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "alert-webhook"}
    assert binding["sink"] == {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}}
    namespace = kb.find(kb.built(), "Namespace", kb.NAMESPACE)
    assert namespace["metadata"]["labels"]["bindings.knative.dev/include"] == "true", "the binding webhook may skip it"


def test_pod_exporter_runs_every_minute() -> None:
    ping = kb.find(kb.built(), "PingSource", "pod-exporter")["spec"]
    assert ping["schedule"] == "* * * * *"
    assert ping["sink"] == {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "pod-exporter"}}


def test_every_eventing_reference_names_an_object_knative_builds() -> None:
    objects = kb.built()
    refs = []
    for obj in objects:
        spec = obj.get("spec", {})
        for holder in (spec, spec.get("delivery", {})):
            for field in ("sink", "subscriber", "deadLetterSink"):
                if "ref" in holder.get(field, {}):
                    refs.append((kb.key(obj), holder[field]["ref"]))
        if "subject" in spec:
            refs.append((kb.key(obj), spec["subject"]))
    assert len(refs) >= 8
    for owner, ref in refs:
        target = kb.find(objects, ref["kind"], ref["name"], ref["apiVersion"].split("/")[0])
        assert target["apiVersion"] == ref["apiVersion"], f"{owner} refers to {ref}, built as {target['apiVersion']}"


# The Incident CRD


def test_incident_crd_matches_the_contract() -> None:
    crd = kb.find(kb.built(), "CustomResourceDefinition", "incidents.whooper.dev")["spec"]
    assert (crd["group"], crd["scope"], crd["names"]["kind"], crd["names"]["plural"]) == (
        "whooper.dev",
        "Namespaced",
        "Incident",
        "incidents",
    )
    [version] = crd["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {
        "Severity": ".spec.severity",
        "Status": ".status.phase",
        "Alert": ".spec.alertname",
        "Age": ".metadata.creationTimestamp",
        "MTTR": ".status.mttrSeconds",
    }
    properties = version["schema"]["openAPIV3Schema"]["properties"]
    assert set(properties["spec"]["properties"]) == {
        "alertname",
        "fingerprint",
        "severity",
        "namespace",
        "pod",
        "startsAt",
        "summary",
        "generatorURL",
        "externalURL",
        "labels",
        "annotations",
    }
    status = properties["status"]["properties"]
    assert set(status) == {
        "phase",
        "reportSentAt",
        "resolvedAt",
        "endsAt",
        "mttrSeconds",
        "summarySource",
        "summary",
        "resolutionSentAt",
    }
    assert status["phase"]["enum"] == ["Open", "Resolved"]
