"""Every environment variable a function reads is provided by its Knative Service, and none that nothing reads.

What a function reads is found in its source (tests/unit/env_reads.py), so this stays true as the
functions change: a new setting in the code fails here until knative/ provides it, and a setting
dropped from the code fails here until knative/ stops providing it.
"""

from __future__ import annotations

from pathlib import Path

import functions_framework
import pytest

from tests.unit import knative_build as kb
from tests.unit.env_reads import function_reads, package_reads

FUNCTIONS = kb.ROOT / "functions"
SHARED = FUNCTIONS / "whooper_common"

# Set in every pod by the platform, not by our manifests.
PLATFORM = {
    "KUBERNETES_SERVICE_HOST": "kubelet, for the in-cluster Kubernetes client",
    "KUBERNETES_SERVICE_PORT": "kubelet, for the in-cluster Kubernetes client",
    "PORT": "Knative Serving, from containerPort",
    "K_SERVICE": "Knative Serving",
    "K_REVISION": "Knative Serving",
    "K_CONFIGURATION": "Knative Serving",
}
# Read by a function but deliberately not provided in the cluster, each for the reason given.
NOT_IN_CLUSTER = {
    "KUBECONFIG": "local runs only; in the cluster the pod's service account is used",
    "K_CE_OVERRIDES": "set by a SinkBinding only when it has ceOverrides; absent means no extensions",
}
SINK_BINDING_PROVIDES = frozenset({"K_SINK", "K_CE_OVERRIDES"})


def _framework_reads() -> set[str]:
    """What functions-framework itself reads (gunicorn's WORKERS and THREADS among them)."""
    return package_reads(Path(functions_framework.__file__).parent)


def _bound_by_sink_binding(service: str) -> bool:
    for binding in kb.of_kind(kb.built(), "SinkBinding", "sources.knative.dev"):
        subject = binding["spec"]["subject"]
        if subject.get("kind") == "Service" and subject.get("name") == service:
            return True
    return False


def _provided(service: str) -> set[str]:
    names = set(kb.env_names(kb.find(kb.built(), "Service", service, "serving.knative.dev")))
    if _bound_by_sink_binding(service):
        names |= SINK_BINDING_PROVIDES
    return names


def _still_placeholder(function: str) -> bool:
    """The function's app is still the foundation's 501 placeholder, so its code reads nothing of its own yet."""
    return "HTTPError(501" in (FUNCTIONS / function / "app.py").read_text(encoding="utf-8")


def _listing(names: set[str]) -> str:
    return "\n".join(f"  {name}" for name in sorted(names))


@pytest.mark.parametrize(("service", "function"), sorted(kb.FUNCTION_SERVICES.items()))
def test_every_variable_a_function_reads_is_provided_by_its_service(service: str, function: str) -> None:
    reads = function_reads(FUNCTIONS / function, SHARED)
    assert not reads.unresolved, (
        f"{function} reads environment variables whose names cannot be seen in the source; pass the name as a "
        "string literal or a module constant:\n" + "\n".join(reads.unresolved)
    )
    missing = reads.names - _provided(service) - set(PLATFORM) - set(NOT_IN_CLUSTER)
    assert not missing, (
        f"functions/{function} reads these variables, but knative/{service}.yaml does not provide them "
        f"(add them to its env, with their value in config.yaml or a Secret):\n{_listing(missing)}"
    )


@pytest.mark.parametrize(("service", "function"), sorted(kb.FUNCTION_SERVICES.items()))
def test_a_service_provides_no_variable_that_nothing_reads(
    service: str, function: str, request: pytest.FixtureRequest
) -> None:
    if _still_placeholder(function):
        # Not a skip: the comparison runs and must fail now; it turns into a plain test when the function lands.
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason=f"functions/{function}/app.py is still the 501 placeholder; knative/ provides the contract's "
                "variables ahead of the code that reads them",
            )
        )
    reads = function_reads(FUNCTIONS / function, SHARED).names | _framework_reads()
    unread = _provided(service) - reads - SINK_BINDING_PROVIDES
    assert not unread, (
        f"knative/{service}.yaml provides these variables, but neither functions/{function} (with the "
        f"whooper_common modules it imports) nor functions-framework reads them:\n{_listing(unread)}"
    )


@pytest.mark.parametrize("service", sorted(kb.FUNCTION_SERVICES))
def test_no_service_sets_what_the_platform_sets(service: str) -> None:
    names = kb.env_names(kb.find(kb.built(), "Service", service, "serving.knative.dev"))
    clash = set(names) & (set(PLATFORM) | SINK_BINDING_PROVIDES)
    assert not clash, f"{service} sets {sorted(clash)}, which Kubernetes, Knative or the SinkBinding set"
    assert len(names) == len(set(names)), f"{service} lists a variable twice: {sorted(names)}"


def test_alert_webhook_gets_its_sink_from_the_broker() -> None:
    assert _bound_by_sink_binding("alert-webhook"), "no SinkBinding gives alert-webhook its K_SINK"
    assert not _bound_by_sink_binding("incident-report"), "incident-report replies to the Broker; it needs no K_SINK"


def test_the_scan_sees_reads_in_every_form(tmp_path: Path) -> None:
    """The scanner is what the two tests above stand on: it must see every way code reads a variable."""
    function_dir, shared_dir = tmp_path / "fn", tmp_path / "whooper_common"
    function_dir.mkdir()
    shared_dir.mkdir()
    (shared_dir / "used.py").write_text(
        'from whooper_common.config import get_int\ndef f(env):\n    return get_int(env, "SHARED_USED", 1)\n'
    )
    (shared_dir / "unused.py").write_text('def f(env):\n    return env.get("SHARED_UNUSED")\n')
    (function_dir / "app.py").write_text(
        "import os\n"
        "from whooper_common import used\n"
        'NAME = "FROM_CONSTANT"\n'
        "def build(env, variable):\n"
        '    get_str(env, "A")\n'
        '    require_str(env, name="B", hint="")\n'
        '    env.get("C", "")\n'
        '    env["D"]\n'
        '    os.environ.get("E")\n'
        '    os.getenv("F")\n'
        '    "G" in env\n'
        "    get_bool(env, NAME)\n"
        "    env.get(variable)\n"
        '    labels.get("NOT_ENV")\n'
    )
    (function_dir / "dynamic.py").write_text('def f(env, prefix):\n    return env.get(prefix + "_HOST")\n')

    reads = function_reads(function_dir, shared_dir)

    assert reads.names == {"A", "B", "C", "D", "E", "F", "G", "FROM_CONSTANT", "SHARED_USED"}
    assert len(reads.unresolved) == 1
    assert "dynamic.py:2" in reads.unresolved[0]
