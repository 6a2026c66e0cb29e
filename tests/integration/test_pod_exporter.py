"""pod_exporter against the Kubernetes API stand-in and a real Pushgateway (scraped by a real Prometheus).

The function runs as production runs it (functions-framework in its own
process) for the end-to-end test, and in-process through functions-framework's
test client for the faults, where the Pushgateway's own API shows whether a
failed run pushed anything.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from functions_framework import create_app

from devstack.engine import Engine
from devstack.functions import ServedFunction
from devstack.kube_api import KubeApiServer, make_pod
from devstack.ports import free_port
from devstack.stack import Service, query, start_pushgateway, wait_until
from pod_exporter.push import JOB
from tests.conftest import Stack
from tests.kubeconfig import write_kubeconfig

MAIN = Path(__file__).resolve().parents[2] / "functions" / "pod_exporter" / "main.py"
OTHER_JOB = "whooper-pod-exporter-test-other"

PING_HEADERS = {
    "ce-specversion": "1.0",
    "ce-type": "dev.knative.sources.ping",
    "ce-source": "/apis/v1/namespaces/whooper/pingsources/pod-exporter",
    "ce-id": "b1f0c6d2-1a2b-4c3d-9e8f-7a6b5c4d3e2f",
    "ce-time": "2026-12-03T10:00:00Z",
    "Content-Type": "application/json",
}


def cluster_pods() -> list[dict[str, Any]]:
    """Ten pods over three namespaces: healthy, crash-looping, OOM-killed, pending, failed, succeeded."""
    return [
        make_pod("web-5f7d8c9b6-aaaaa", "shop"),
        make_pod("web-5f7d8c9b6-bbbbb", "shop"),
        make_pod("api-6c8d9e0f1-ccccc", "shop", waiting_reason="CrashLoopBackOff", restarts=6),
        make_pod("cache-7d9e0f1a2-ddddd", "shop", terminated_reason="OOMKilled", restarts=2),
        make_pod("worker-8e0f1a2b3-eeeee", "batch", "Pending", waiting_reason="ImagePullBackOff"),
        make_pod("big-9f1a2b3c4-fffff", "batch", "Pending", node=None),
        make_pod("import-28911460-ggggg", "batch", "Failed", terminated_reason="OOMKilled", owner_kind="Job"),
        make_pod("nightly-28911520-hhhhh", "batch", "Succeeded", owner_kind="Job"),
        make_pod("scraper-0a2b3c4d5-iiiii", "tools", "Failed", terminated_reason="Evicted"),
        make_pod("shell-1b3c4d5e6-jjjjj", "tools"),
    ]


@pytest.fixture
def kube() -> Iterator[KubeApiServer]:
    with KubeApiServer() as server:
        server.set_pods(cluster_pods())
        yield server


@pytest.fixture(scope="module")
def shared_pushgateway(engine: Engine) -> Iterator[Service]:
    service = start_pushgateway(engine)
    yield service
    service.stop()


@pytest.fixture
def pushgateway(shared_pushgateway: Service) -> Service:
    """The module's Pushgateway with no group left over from an earlier test."""
    for job in (JOB, OTHER_JOB):
        requests.delete(f"{shared_pushgateway.url}/metrics/job/{job}", timeout=5).raise_for_status()
    return shared_pushgateway


@pytest.fixture
def env(kube: KubeApiServer, pushgateway: Service, tmp_path: Path) -> dict[str, str]:
    return {
        "PUSHGATEWAY_URL": pushgateway.url,
        "KUBECONFIG": str(kube.write_kubeconfig(tmp_path / "kubeconfig")),
        "POD_PAGE_SIZE": "3",
        "KUBE_TIMEOUT_SECONDS": "1",
        "PUSHGATEWAY_TIMEOUT_SECONDS": "2",
    }


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], Any]:
    """The function in-process, built from ``env`` on its first request as functions-framework builds it."""

    def make(env: dict[str, str]) -> Any:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return create_app(target="handle", source=str(MAIN)).test_client()

    return make


def pushed_group(pushgateway: Service) -> dict[str, Any] | None:
    """The group the Pushgateway holds for the exporter's job, as its API shows it (None: nothing pushed)."""
    answer = requests.get(f"{pushgateway.url}/api/v1/metrics", timeout=5)
    answer.raise_for_status()
    groups = [g for g in answer.json()["data"] if g["labels"].get("job") == JOB]
    return groups[0] if groups else None


def pushed(group: dict[str, Any], metric: str) -> dict[frozenset[tuple[str, str]], float]:
    """A metric of the pushed group: labels (without job and instance) to value."""
    return {
        frozenset((k, v) for k, v in sample["labels"].items() if k not in ("job", "instance")): float(sample["value"])
        for sample in group[metric]["metrics"]
    }


def pushed_pods(group: dict[str, Any]) -> set[str]:
    return {dict(labels)["pod"] for labels in pushed(group, "whooper_pod_phase")}


def pod_list_requests(kube: KubeApiServer) -> list[Any]:
    return [r for r in kube.requests if r.method == "GET" and r.path.endswith("/pods")]


def counter(client: Any, sample: str) -> float:
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{sample} not exposed")


def test_ping_pushes_every_page_and_prometheus_answers_until_deleted_pods_are_gone(
    kube: KubeApiServer, env: dict[str, str], stack: Stack, serve_function: Callable[..., ServedFunction]
) -> None:
    function = serve_function("pod_exporter", env)
    pushgateway_address = env["PUSHGATEWAY_URL"].removeprefix("http://")
    prometheus = stack.prometheus(
        [
            {"job_name": "pushgateway", "honor_labels": True, "static_configs": [{"targets": [pushgateway_address]}]},
            {"job_name": "pod-exporter", "static_configs": [{"targets": [f"127.0.0.1:{function.port}"]}]},
        ]
    )

    answer = requests.post(f"{function.url}/", headers=PING_HEADERS, data=b"", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() | {"listSeconds": 0, "pushSeconds": 0} == {
        "status": "pushed",
        "job": JOB,
        "pods": 10,
        "namespaces": 3,
        "pages": 4,
        "listRestarts": 0,
        "listSeconds": 0,
        "pushSeconds": 0,
    }
    # Paged as asked: limit on every request, the continue token from the page before on all but the first.
    lists = pod_list_requests(kube)
    assert [r.param("limit") for r in lists] == ["3"] * 4
    assert lists[0].param("continue") is None
    assert all(r.param("continue") for r in lists[1:])

    failed = wait_until(lambda: query(prometheus, "whooper_pods_failed"), timeout=30, what="whooper_pods_failed")
    assert failed[0]["value"][1] == "2"
    assert failed[0]["metric"]["job"] == JOB
    assert query(prometheus, "whooper_pods_total")[0]["value"][1] == "10"
    assert query(prometheus, "whooper_pods_pending")[0]["value"][1] == "2"
    phases = {r["metric"]["pod"]: r["metric"]["phase"] for r in query(prometheus, "whooper_pod_phase == 1")}
    assert phases["api-6c8d9e0f1-ccccc"] == "Running"
    assert phases["import-28911460-ggggg"] == "Failed"
    assert phases["big-9f1a2b3c4-fffff"] == "Pending"
    (crash,) = query(prometheus, 'whooper_pod_container_waiting{reason="CrashLoopBackOff"}')
    assert (crash["metric"]["namespace"], crash["metric"]["pod"]) == ("shop", "api-6c8d9e0f1-ccccc")
    restarts = query(prometheus, 'whooper_pod_container_restarts_total{pod="api-6c8d9e0f1-ccccc"}')
    assert {r["metric"]["container"]: r["value"][1] for r in restarts}["api-6c8d9e0f1-ccccc"] == "6"
    oom = {r["metric"]["pod"] for r in query(prometheus, 'whooper_pod_container_last_terminated{reason="OOMKilled"}')}
    assert oom == {"cache-7d9e0f1a2-ddddd", "import-28911460-ggggg"}
    pending_since = {r["metric"]["pod"] for r in query(prometheus, "whooper_pod_pending_since_timestamp_seconds")}
    assert pending_since == {"worker-8e0f1a2b3-eeeee", "big-9f1a2b3c4-fffff"}
    assert query(prometheus, "whooper_pod_exporter_pods_listed")[0]["value"][1] == "10"

    # Both pods with a waiting container go: the waiting family is then empty, which only a PUT of the
    # whole group clears (a POST would keep the old series of a family it does not mention).
    assert kube.delete_pod("shop", "api-6c8d9e0f1-ccccc")
    assert kube.delete_pod("batch", "worker-8e0f1a2b3-eeeee")
    again = requests.post(f"{function.url}/", timeout=30)  # a plain POST runs it too
    assert again.status_code == 200, again.text
    assert again.json()["pods"] == 8

    wait_until(lambda: query(prometheus, "whooper_pods_total")[0]["value"][1] == "8", timeout=30, what="8 pods scraped")
    for pod in ("api-6c8d9e0f1-ccccc", "worker-8e0f1a2b3-eeeee"):
        wait_until(
            lambda pod=pod: query(prometheus, f'{{__name__=~"whooper_pod_.+", pod="{pod}"}}') == [],
            timeout=30,
            what=f"the series of deleted pod {pod} gone",
        )
    assert query(prometheus, "whooper_pod_container_waiting") == []
    assert query(prometheus, 'whooper_pod_phase{pod="web-5f7d8c9b6-aaaaa"}') != []
    runs = wait_until(
        lambda: query(prometheus, 'whooper_pod_exporter_runs_total{outcome="success"} == 2'),
        timeout=30,
        what="the exporter's own run counter scraped",
    )
    assert runs[0]["metric"]["job"] == "pod-exporter"


def test_structured_ping_lists_only_the_watched_namespaces(
    kube: KubeApiServer, env: dict[str, str], pushgateway: Service, exporter: Callable[..., Any]
) -> None:
    client = exporter(env | {"WATCH_NAMESPACES": "shop,quiet"})
    event = {
        "specversion": "1.0",
        "type": "dev.knative.sources.ping",
        "source": "/apis/v1/namespaces/whooper/pingsources/pod-exporter",
        "id": "9f8e7d6c",
        "data": {},
    }
    answer = client.post("/", json=event, content_type="application/cloudevents+json")
    assert answer.status_code == 200, answer.get_data(as_text=True)

    assert {r.path for r in pod_list_requests(kube)} == {
        "/api/v1/namespaces/shop/pods",
        "/api/v1/namespaces/quiet/pods",
    }
    group = pushed_group(pushgateway)
    assert group is not None
    assert pushed_pods(group) == {
        "web-5f7d8c9b6-aaaaa",
        "web-5f7d8c9b6-bbbbb",
        "api-6c8d9e0f1-ccccc",
        "cache-7d9e0f1a2-ddddd",
    }
    per_namespace = pushed(group, "whooper_namespace_pods")
    assert per_namespace[frozenset({("namespace", "shop"), ("phase", "Running")})] == 4
    assert per_namespace[frozenset({("namespace", "quiet"), ("phase", "Running")})] == 0


def test_an_expired_continue_token_restarts_the_list_once(
    kube: KubeApiServer, env: dict[str, str], pushgateway: Service, exporter: Callable[..., Any]
) -> None:
    kube.fail(410, times=1, path_contains="continue=")
    answer = exporter(env).post("/", headers=PING_HEADERS)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["listRestarts"] == 1
    # The first page, the 410 on the second, then the whole list again from the start.
    assert [r.param("continue") is None for r in pod_list_requests(kube)] == [True, False, True, False, False, False]
    group = pushed_group(pushgateway)
    assert group is not None
    assert len(pushed_pods(group)) == 10
    assert pushed(group, "whooper_pods_total") == {frozenset(): 10}


def test_a_list_that_expires_twice_fails_and_pushes_nothing(
    kube: KubeApiServer, env: dict[str, str], pushgateway: Service, exporter: Callable[..., Any]
) -> None:
    kube.fail(410, times=2, path_contains="continue=")
    client = exporter(env)
    answer = client.post("/", headers=PING_HEADERS)
    assert answer.status_code == 503
    assert "expired (410 Gone) twice" in answer.get_json()["error"]
    assert pushed_group(pushgateway) is None
    assert counter(client, 'whooper_pod_exporter_errors_total{kind="kubernetes_list_expired"}') == 1


def test_forbidden_mid_list_names_the_rbac_rule_and_keeps_the_last_push(
    kube: KubeApiServer,
    env: dict[str, str],
    pushgateway: Service,
    exporter: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = exporter(env)
    assert client.post("/", headers=PING_HEADERS).status_code == 200
    before = pushed_group(pushgateway)
    assert before is not None
    kube.delete_pod("shop", "web-5f7d8c9b6-aaaaa")

    kube.fail(403, times=1, path_contains="continue=")  # the first page is read, the second is refused
    with caplog.at_level(logging.ERROR, logger="whooper.pod_exporter"):
        answer = client.post("/", headers=PING_HEADERS)

    assert answer.status_code == 502
    error = answer.get_json()["error"]
    assert "403 Forbidden" in error
    assert "system:serviceaccount:whooper:pod-exporter" in error  # the API server's own words
    assert "RBAC" in error
    assert 'verbs ["list"]' in error
    # No partial push: the group is the one the last good run pushed, untouched.
    after = pushed_group(pushgateway)
    assert after is not None
    assert after["push_time_seconds"] == before["push_time_seconds"]
    assert pushed_pods(after) == pushed_pods(before)
    assert counter(client, 'whooper_pod_exporter_errors_total{kind="kubernetes_forbidden"}') == 1
    assert counter(client, 'whooper_pod_exporter_runs_total{outcome="failure"}') == 1
    assert counter(client, 'whooper_pod_exporter_runs_total{outcome="success"}') == 1
    (record,) = [r for r in caplog.records if r.name == "whooper.pod_exporter" and r.levelno == logging.ERROR]
    assert record.kind == "kubernetes_forbidden"  # type: ignore[attr-defined]
    assert "RBAC" in record.getMessage()


def test_a_rejected_token_says_to_check_the_credentials(
    kube: KubeApiServer, env: dict[str, str], pushgateway: Service, exporter: Callable[..., Any], tmp_path: Path
) -> None:
    wrong = write_kubeconfig(tmp_path / "wrong", server=kube.url, token="not-the-token")
    client = exporter(env | {"KUBECONFIG": str(wrong)})
    answer = client.post("/", headers=PING_HEADERS)
    assert answer.status_code == 502
    error = answer.get_json()["error"]
    assert "401 Unauthorized" in error
    assert "token" in error
    assert "not-the-token" not in error
    assert pushed_group(pushgateway) is None
    assert counter(client, 'whooper_pod_exporter_errors_total{kind="kubernetes_unauthorized"}') == 1


def test_a_kubeconfig_found_unusable_on_the_first_run_is_a_5xx_until_it_is_fixed(
    kube: KubeApiServer, env: dict[str, str], pushgateway: Service, exporter: Callable[..., Any], tmp_path: Path
) -> None:
    # Readable, so the function starts (its content is read by the first run, with the client), but no cluster.
    broken = tmp_path / "broken"
    broken.write_text("apiVersion: v1\nkind: Config\n")
    client = exporter(env | {"KUBECONFIG": str(broken)})
    assert client.get("/healthz").status_code == 200

    answer = client.post("/", headers=PING_HEADERS)
    assert answer.status_code == 503
    error = answer.get_json()["error"]
    assert f"KUBECONFIG={str(broken)!r} cannot be used" in error
    assert "Invalid kube-config" in error
    assert pushed_group(pushgateway) is None
    assert counter(client, 'whooper_pod_exporter_errors_total{kind="kubernetes_config"}') == 1

    kube.write_kubeconfig(broken)  # mended in place: the next tick makes the client and runs
    again = client.post("/", headers=PING_HEADERS)
    assert again.status_code == 200, again.get_data(as_text=True)
    group = pushed_group(pushgateway)
    assert group is not None
    assert len(pushed_pods(group)) == 10


def test_a_slow_api_times_out_with_a_retryable_answer(
    kube: KubeApiServer, env: dict[str, str], pushgateway: Service, exporter: Callable[..., Any]
) -> None:
    kube.delay(5, times=1, path_contains="/pods")
    client = exporter(env)  # KUBE_TIMEOUT_SECONDS=1
    answer = client.post("/", headers=PING_HEADERS)
    assert answer.status_code == 504
    error = answer.get_json()["error"]
    assert "did not answer within 1 s" in error
    assert "KUBE_TIMEOUT_SECONDS" in error
    assert len(pod_list_requests(kube)) == 1  # failed at once, not after hidden retries
    assert pushed_group(pushgateway) is None
    assert counter(client, 'whooper_pod_exporter_errors_total{kind="kubernetes_timeout"}') == 1


def test_an_unreachable_api_names_its_address(
    env: dict[str, str], pushgateway: Service, exporter: Callable[..., Any], tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    client = exporter(env | {"KUBECONFIG": str(write_kubeconfig(tmp_path / "nowhere", server=nowhere))})
    answer = client.post("/", headers=PING_HEADERS)
    assert answer.status_code == 503
    assert f"the Kubernetes API at {nowhere} is unreachable" in answer.get_json()["error"]
    assert pushed_group(pushgateway) is None
    assert counter(client, 'whooper_pod_exporter_errors_total{kind="kubernetes_unreachable"}') == 1


def test_an_api_server_error_is_a_retryable_answer(
    kube: KubeApiServer, env: dict[str, str], pushgateway: Service, exporter: Callable[..., Any]
) -> None:
    kube.fail(500)
    client = exporter(env)
    answer = client.post("/", headers=PING_HEADERS)
    assert answer.status_code == 502
    assert "answered 500" in answer.get_json()["error"]
    assert "etcdserver: request timed out" in answer.get_json()["error"]
    assert pushed_group(pushgateway) is None
    assert counter(client, 'whooper_pod_exporter_errors_total{kind="kubernetes_error"}') == 1


def test_pushgateway_down_is_a_retryable_answer_naming_it(
    kube: KubeApiServer, env: dict[str, str], exporter: Callable[..., Any]
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    client = exporter(env | {"PUSHGATEWAY_URL": down})
    answer = client.post("/", headers=PING_HEADERS)
    assert answer.status_code == 503
    error = answer.get_json()["error"]
    assert f"the Pushgateway at {down} is unreachable" in error
    assert "PUSHGATEWAY_URL" in error
    assert counter(client, 'whooper_pod_exporter_errors_total{kind="pushgateway_unreachable"}') == 1
    assert counter(client, 'whooper_pod_exporter_runs_total{outcome="failure"}') == 1


def test_a_pushgateway_that_does_not_answer_times_out(
    kube: KubeApiServer, env: dict[str, str], exporter: Callable[..., Any]
) -> None:
    # A socket that listens but never accepts: the connection opens, the answer never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        client = exporter(env | {"PUSHGATEWAY_URL": url, "PUSHGATEWAY_TIMEOUT_SECONDS": "1"})
        answer = client.post("/", headers=PING_HEADERS)
    assert answer.status_code == 504
    error = answer.get_json()["error"]
    assert f"the Pushgateway at {url} did not answer within 1 s" in error
    assert "PUSHGATEWAY_TIMEOUT_SECONDS" in error
    assert counter(client, 'whooper_pod_exporter_errors_total{kind="pushgateway_timeout"}') == 1


def test_pushgateway_rejecting_the_push_gives_its_reason(
    kube: KubeApiServer, env: dict[str, str], pushgateway: Service, exporter: Callable[..., Any]
) -> None:
    # Another job already pushed one of the exporter's names with another type: the Pushgateway refuses ours.
    clash = requests.put(
        f"{pushgateway.url}/metrics/job/{OTHER_JOB}",
        data="# TYPE whooper_pods_failed counter\nwhooper_pods_failed 1\n",
        timeout=5,
    )
    assert clash.status_code == 200
    client = exporter(env)
    answer = client.post("/", headers=PING_HEADERS)
    assert answer.status_code == 502
    error = answer.get_json()["error"]
    assert "rejected the push (400" in error
    assert "whooper_pods_failed" in error
    # The Pushgateway keeps the failed attempt's time (push_failure_time_seconds) but none of its series.
    group = pushed_group(pushgateway)
    assert group is not None
    assert group["last_push_successful"] is False
    assert not [name for name in group if name.startswith("whooper_")]
    assert counter(client, 'whooper_pod_exporter_errors_total{kind="pushgateway_rejected"}') == 1


def test_served_function_answers_and_logs_a_forbidden_list(
    kube: KubeApiServer, env: dict[str, str], pushgateway: Service, serve_function: Callable[..., ServedFunction]
) -> None:
    function = serve_function("pod_exporter", env)
    kube.fail(403, times=1)
    answer = requests.post(f"{function.url}/", headers=PING_HEADERS, timeout=30)
    assert answer.status_code == 502
    assert "RBAC" in answer.json()["error"]
    assert pushed_group(pushgateway) is None

    def logged_error() -> dict[str, Any] | None:
        for line in function.logs().splitlines():
            if line.startswith("{") and json.loads(line).get("kind") == "kubernetes_forbidden":
                return dict(json.loads(line))
        return None

    entry = wait_until(logged_error, timeout=10, what="the failure logged")
    assert entry["severity"] == "ERROR"
    assert "403 Forbidden" in entry["message"]
    assert "Traceback" not in function.logs()
