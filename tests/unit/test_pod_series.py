"""Pod JSON, as the Kubernetes API lists it, to the series pushed for job="whooper-pod-exporter".

The pods live in data/pod_list.json: a PodList shaped like real API output
(managedFields, specs, conditions, init and regular container statuses), one
pod per phase and per waiting or termination reason the alerts look for.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pod_exporter.pods import read_page
from pod_exporter.series import PodGroup, RunHealth

POD_LIST = json.loads((Path(__file__).parent / "data" / "pod_list.json").read_text())
HEALTH = RunHealth(finished_at=1_764_752_400.0, duration_seconds=0.25, pods_listed=12)

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def exposition(items: list[dict[str, Any]], namespaces: tuple[str, ...] = ()) -> str:
    """The group exactly as it is pushed: the text a fresh registry holding it exposes."""
    pods, _ = read_page(json.dumps({"kind": "PodList", "apiVersion": "v1", "items": items}).encode())
    group = PodGroup(pods, HEALTH, namespaces)
    return generate_latest(group.registry()).decode()


def series(items: list[dict[str, Any]], namespaces: tuple[str, ...] = ()) -> Series:
    found: Series = {}
    for family in text_string_to_metric_families(exposition(items, namespaces)):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def pod(name: str) -> dict[str, Any]:
    (item,) = [p for p in POD_LIST["items"] if p["metadata"]["name"] == name]
    return copy.deepcopy(item)  # tests may change it; the shared list stays as read


def of_pod(found: Series, metric: str, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (m, labels), value in found.items() if m == metric and ("pod", name) in labels}


def labels(**kwargs: str) -> frozenset[tuple[str, str]]:
    return frozenset(kwargs.items())


def test_cluster_totals_count_every_phase() -> None:
    found = series(POD_LIST["items"])
    assert found[("whooper_pods_total", frozenset())] == 12
    assert found[("whooper_pods_running", frozenset())] == 3
    assert found[("whooper_pods_pending", frozenset())] == 5
    assert found[("whooper_pods_failed", frozenset())] == 2
    assert found[("whooper_pods_succeeded", frozenset())] == 1
    assert found[("whooper_pods_unknown", frozenset())] == 1


def test_totals_are_zero_not_missing_when_no_pods() -> None:
    found = series([])
    for name in ("total", "running", "pending", "failed", "succeeded", "unknown"):
        assert found[(f"whooper_pods_{name}", frozenset())] == 0


def test_namespace_breakdown_has_every_phase_of_every_namespace() -> None:
    found = series(POD_LIST["items"], namespaces=("empty",))
    per_namespace = {
        (dict(labels)["namespace"], dict(labels)["phase"]): value
        for (metric, labels), value in found.items()
        if metric == "whooper_namespace_pods"
    }
    assert per_namespace[("shop", "Running")] == 3
    assert per_namespace[("shop", "Pending")] == 1
    assert per_namespace[("shop", "Failed")] == 1
    assert per_namespace[("batch", "Pending")] == 4
    assert per_namespace[("batch", "Succeeded")] == 1
    assert per_namespace[("legacy", "Unknown")] == 1
    assert per_namespace[("shop", "Succeeded")] == 0
    # A watched namespace with no pods reads 0 rather than vanishing.
    assert {phase: per_namespace[("empty", phase)] for phase in ("Running", "Pending", "Failed")} == {
        "Running": 0,
        "Pending": 0,
        "Failed": 0,
    }
    assert len(per_namespace) == 4 * 5


@pytest.mark.parametrize(
    ("name", "phase"),
    [
        ("web-7d9c6b5f4-x2k8p", "Running"),
        ("big-1e2f3a4b5-g7h8i", "Pending"),
        ("nightly-28911520-r5s6t", "Succeeded"),
        ("import-28911460-u7v8w", "Failed"),
        ("scraper-3a4b5c6d7-e9f0g", "Failed"),
        ("legacy-4b5c6d7e8-h1i2j", "Unknown"),
    ],
)
def test_pod_phase_is_one_series_for_the_current_phase(name: str, phase: str) -> None:
    item = pod(name)
    found = series([item])
    assert of_pod(found, "whooper_pod_phase", name) == {
        labels(namespace=item["metadata"]["namespace"], pod=name, phase=phase): 1
    }


def test_a_pod_without_a_phase_counts_as_unknown() -> None:
    item = pod("web-7d9c6b5f4-x2k8p")
    item["status"] = {}
    found = series([item])
    assert found[("whooper_pods_unknown", frozenset())] == 1
    assert of_pod(found, "whooper_pod_phase", "web-7d9c6b5f4-x2k8p") == {
        labels(namespace="shop", pod="web-7d9c6b5f4-x2k8p", phase="Unknown"): 1
    }


def test_restart_counts_per_container_are_counters() -> None:
    text = exposition([pod("web-7d9c6b5f4-x2k8p"), pod("api-5c8d7f6b9-q4r7t")])
    assert "# TYPE whooper_pod_container_restarts_total counter" in text
    found = series([pod("web-7d9c6b5f4-x2k8p"), pod("api-5c8d7f6b9-q4r7t")])
    restarts = {
        dict(labels)["container"]: value
        for (metric, labels), value in found.items()
        if metric == "whooper_pod_container_restarts_total"
    }
    assert restarts == {"web": 0, "envoy": 1, "api": 7}


@pytest.mark.parametrize(
    ("name", "container", "reason"),
    [
        ("api-5c8d7f6b9-q4r7t", "api", "CrashLoopBackOff"),
        ("worker-8b9c0d1e2-z9y8x", "worker", "ImagePullBackOff"),
        ("loader-9c0d1e2f3-a1b2c", "loader", "ErrImagePull"),
        ("report-0d1e2f3a4-d5e6f", "report", "CreateContainerConfigError"),
    ],
)
def test_waiting_reason_of_a_container(name: str, container: str, reason: str) -> None:
    item = pod(name)
    found = series([item])
    namespace = item["metadata"]["namespace"]
    assert of_pod(found, "whooper_pod_container_waiting", name) == {
        labels(namespace=namespace, pod=name, container=container, reason=reason): 1
    }


def test_init_container_crash_loop_is_seen_with_the_waiting_app_container() -> None:
    name = "migrate-2f3a4b5c6-j1k2l"
    found = series([pod(name)])
    assert of_pod(found, "whooper_pod_container_waiting", name) == {
        labels(namespace="shop", pod=name, container="wait-db", reason="CrashLoopBackOff"): 1,
        labels(namespace="shop", pod=name, container="migrate-app", reason="PodInitializing"): 1,
    }
    assert (
        of_pod(found, "whooper_pod_container_restarts_total", name)[
            labels(namespace="shop", pod=name, container="wait-db")
        ]
        == 4
    )
    assert of_pod(found, "whooper_pod_container_last_terminated", name) == {
        labels(namespace="shop", pod=name, container="wait-db", reason="Error"): 1
    }


@pytest.mark.parametrize(
    ("name", "container", "reason"),
    [
        ("api-5c8d7f6b9-q4r7t", "api", "Error"),  # crash-looping: lastState.terminated
        ("cache-6f7a8b9c0-m3n4p", "cache", "OOMKilled"),  # running again after an OOM kill
        ("import-28911460-u7v8w", "import", "OOMKilled"),  # restartPolicy Never: state.terminated
        ("nightly-28911520-r5s6t", "nightly", "Completed"),
    ],
)
def test_reason_a_container_last_terminated(name: str, container: str, reason: str) -> None:
    item = pod(name)
    found = series([item])
    namespace = item["metadata"]["namespace"]
    assert of_pod(found, "whooper_pod_container_last_terminated", name) == {
        labels(namespace=namespace, pod=name, container=container, reason=reason): 1
    }


def test_a_healthy_container_neither_waits_nor_has_terminated() -> None:
    found = series([pod("web-7d9c6b5f4-x2k8p")])
    assert of_pod(found, "whooper_pod_container_waiting", "web-7d9c6b5f4-x2k8p") == {}
    # envoy restarted once after completing; web never terminated.
    assert of_pod(found, "whooper_pod_container_last_terminated", "web-7d9c6b5f4-x2k8p") == {
        labels(namespace="shop", pod="web-7d9c6b5f4-x2k8p", container="envoy", reason="Completed"): 1
    }


def test_evicted_pod_without_container_statuses_has_only_its_phase() -> None:
    name = "scraper-3a4b5c6d7-e9f0g"
    found = series([pod(name)])
    assert [metric for (metric, labels), _ in found.items() if ("pod", name) in labels] == ["whooper_pod_phase"]


def test_pending_since_is_the_creation_time_of_pending_pods_only() -> None:
    found = series(POD_LIST["items"])
    pending = {
        dict(labels)["pod"]: value
        for (metric, labels), value in found.items()
        if metric == "whooper_pod_pending_since_timestamp_seconds"
    }
    unschedulable = datetime(2026, 12, 3, 8, 30, tzinfo=UTC).timestamp()
    assert pending["big-1e2f3a4b5-g7h8i"] == unschedulable
    assert set(pending) == {
        "worker-8b9c0d1e2-z9y8x",
        "loader-9c0d1e2f3-a1b2c",
        "report-0d1e2f3a4-d5e6f",
        "big-1e2f3a4b5-g7h8i",
        "migrate-2f3a4b5c6-j1k2l",
    }


def test_exporter_health_is_in_the_group() -> None:
    found = series(POD_LIST["items"])
    assert found[("whooper_pod_exporter_last_success_timestamp_seconds", frozenset())] == HEALTH.finished_at
    assert found[("whooper_pod_exporter_run_duration_seconds", frozenset())] == HEALTH.duration_seconds
    assert found[("whooper_pod_exporter_pods_listed", frozenset())] == 12


def test_the_group_holds_only_the_contract_series() -> None:
    """No process or platform metrics ride along: the group is the pods and the exporter's health."""
    names = {family.name for family in text_string_to_metric_families(exposition(POD_LIST["items"]))}
    assert names == {
        "whooper_pods_total",
        "whooper_pods_running",
        "whooper_pods_pending",
        "whooper_pods_failed",
        "whooper_pods_succeeded",
        "whooper_pods_unknown",
        "whooper_namespace_pods",
        "whooper_pod_phase",
        "whooper_pod_container_restarts",
        "whooper_pod_container_waiting",
        "whooper_pod_container_last_terminated",
        "whooper_pod_pending_since_timestamp_seconds",
        "whooper_pod_exporter_last_success_timestamp_seconds",
        "whooper_pod_exporter_run_duration_seconds",
        "whooper_pod_exporter_pods_listed",
    }


def test_label_values_are_escaped_in_the_exposition() -> None:
    item = pod("api-5c8d7f6b9-q4r7t")
    item["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] = 'Odd"Reason\\x'
    found = series([item])
    assert of_pod(found, "whooper_pod_container_waiting", "api-5c8d7f6b9-q4r7t") == {
        labels(namespace="shop", pod="api-5c8d7f6b9-q4r7t", container="api", reason='Odd"Reason\\x'): 1
    }


container_statuses = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
            "restartCount": st.integers(min_value=0, max_value=10_000),
            "state": st.sampled_from([{}, {"running": {}}, {"waiting": {"reason": "CrashLoopBackOff"}}]),
            "lastState": st.sampled_from([{}, {"terminated": {"reason": "OOMKilled", "exitCode": 137}}]),
        }
    ),
    max_size=3,
    unique_by=lambda c: c["name"],
)
pods = st.lists(
    st.fixed_dictionaries(
        {
            "metadata": st.fixed_dictionaries(
                {
                    "namespace": st.sampled_from(["shop", "batch", "kube-system"]),
                    "name": st.from_regex(r"[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?", fullmatch=True),
                    "creationTimestamp": st.just("2026-12-03T09:00:00Z"),
                }
            ),
            "status": st.fixed_dictionaries(
                {"phase": st.sampled_from(["Running", "Pending", "Failed", "Succeeded", "Unknown"])},
                optional={"containerStatuses": container_statuses},
            ),
        }
    ),
    max_size=20,
    unique_by=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"]),
)


@settings(max_examples=60, deadline=None)
@given(items=pods)
def test_totals_namespaces_and_pods_agree_for_any_list(items: list[dict[str, Any]]) -> None:
    found = series(items)
    total = found[("whooper_pods_total", frozenset())]
    assert total == len(items)
    assert (
        sum(
            found[(f"whooper_pods_{phase}", frozenset())]
            for phase in ("running", "pending", "failed", "succeeded", "unknown")
        )
        == total
    )
    assert sum(v for (m, _), v in found.items() if m == "whooper_namespace_pods") == total
    assert sum(v for (m, _), v in found.items() if m == "whooper_pod_phase") == total
    containers = sum(len(p["status"].get("containerStatuses", [])) for p in items)
    assert len([m for (m, _) in found if m == "whooper_pod_container_restarts_total"]) == containers
