"""The Kubernetes API stand-in, driven by the real ``kubernetes`` client as the functions use it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from devstack.kube_api import KubeApiServer, generate_pods, make_event, make_pod
from devstack.ports import free_port

pytestmark = pytest.mark.integration

GROUP, VERSION, PLURAL = "whooper.example.com", "v1alpha1", "incidents"


@pytest.fixture
def kube() -> Iterator[KubeApiServer]:
    with KubeApiServer() as server:
        yield server


@pytest.fixture
def api_client(kube: KubeApiServer) -> Iterator[client.ApiClient]:
    api = kube.api_client()
    yield api
    api.close()


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def custom(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


def status_of(error: ApiException) -> dict:
    return json.loads(error.body)


def incident(name: str, severity: str = "critical") -> dict:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Incident",
        "metadata": {"name": name, "labels": {"team": "shop"}},
        "spec": {"alertname": "PodCrashLooping", "severity": severity},
        "status": {"phase": "ignored on create"},
    }


# -- listing and paging ---------------------------------------------------------------


def test_lists_all_pods_page_by_page_like_the_api_server(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.set_pods(generate_pods(120, namespaces=4))

    first = core.list_pod_for_all_namespaces(limit=50)
    second = core.list_pod_for_all_namespaces(limit=50, _continue=first.metadata._continue)
    third = core.list_pod_for_all_namespaces(limit=50, _continue=second.metadata._continue)

    assert (first.kind, first.api_version) == ("PodList", "v1")
    assert [len(page.items) for page in (first, second, third)] == [50, 50, 20]
    assert [page.metadata.remaining_item_count for page in (first, second, third)] == [70, 20, None]
    assert third.metadata._continue is None
    assert first.metadata.resource_version == second.metadata.resource_version == third.metadata.resource_version
    keys = [f"{p.metadata.namespace}/{p.metadata.name}" for page in (first, second, third) for p in page.items]
    assert keys == sorted(keys)  # etcd key order
    assert len(set(keys)) == 120
    assert {p.status.phase for page in (first, second, third) for p in page.items} >= {"Running", "Pending"}


def test_lists_namespaced_pods_page_by_page(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.set_pods(generate_pods(60, namespaces=3))

    names, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_pod("team-01", limit=7, _continue=token)
        names += [pod.metadata.name for pod in page.items]
        assert all(pod.metadata.namespace == "team-01" for pod in page.items)
        pages, token = pages + 1, page.metadata._continue
        if token is None:
            break

    assert len(names) == 20
    assert pages == 3
    assert core.list_namespaced_pod("nobody-here").items == []


def test_later_pages_come_from_the_first_pages_snapshot(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.set_pods([make_pod(f"web-{i}", "shop", owner_kind="StatefulSet") for i in range(4)])
    first = core.list_namespaced_pod("shop", limit=2)

    kube.add_pod(make_pod("web-9", "shop", owner_kind="StatefulSet"))
    kube.delete_pod("shop", "web-3")
    rest = core.list_namespaced_pod("shop", limit=10, _continue=first.metadata._continue)

    assert [pod.metadata.name for pod in rest.items] == ["web-2", "web-3"]
    assert [pod.metadata.name for pod in core.list_namespaced_pod("shop").items] == ["web-0", "web-1", "web-2", "web-9"]


def test_an_expired_continue_token_answers_410_expired(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.set_pods(generate_pods(30))
    first = core.list_pod_for_all_namespaces(limit=10)

    kube.expire_continue_tokens()
    with pytest.raises(ApiException) as caught:
        core.list_pod_for_all_namespaces(limit=10, _continue=first.metadata._continue)

    assert caught.value.status == 410
    status = status_of(caught.value)
    assert (status["kind"], status["reason"], status["code"]) == ("Status", "Expired", 410)
    assert status["message"].startswith("The provided continue parameter is too old to display a consistent list")
    # Like the real server, the 410 carries a token to go on with an inconsistent list.
    rest = core.list_pod_for_all_namespaces(limit=100, _continue=status["metadata"]["continue"])
    assert len(rest.items) == 20


def test_raw_reading_with_preload_content_false(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.set_pods(generate_pods(5))

    response = core.list_pod_for_all_namespaces(limit=3, _preload_content=False)
    listed = json.loads(response.data)

    assert isinstance(response, urllib3.HTTPResponse)
    assert response.headers["Content-Type"] == "application/json"
    assert (listed["kind"], listed["apiVersion"]) == ("PodList", "v1")
    assert set(listed["metadata"]) == {"resourceVersion", "continue", "remainingItemCount"}
    assert "kind" not in listed["items"][0]  # list items carry no type, as on the wire
    first = listed["items"][0]["metadata"]
    pod = json.loads(core.read_namespaced_pod(first["name"], first["namespace"], _preload_content=False).data)
    assert (pod["kind"], pod["apiVersion"]) == ("Pod", "v1")


# -- errors and faults ------------------------------------------------------------------


def test_requests_without_the_bearer_token_get_401(kube: KubeApiServer) -> None:
    for token in (None, "wrong"):
        configuration = client.Configuration(host=kube.url)
        if token:
            configuration.api_key = {"BearerToken": token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
        with client.ApiClient(configuration) as api, pytest.raises(ApiException) as caught:
            client.CoreV1Api(api).list_pod_for_all_namespaces()
        assert caught.value.status == 401
        status = status_of(caught.value)
        assert (status["kind"], status["reason"], status["message"]) == ("Status", "Unauthorized", "Unauthorized")


def test_an_injected_403_reads_like_an_rbac_denial(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.fail(403, path_contains="/api/v1/pods")

    with pytest.raises(ApiException) as caught:
        core.list_pod_for_all_namespaces(limit=10)

    assert caught.value.status == 403
    status = status_of(caught.value)
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        'pods is forbidden: User "system:serviceaccount:whooper:pod-exporter" cannot list resource "pods" '
        'in API group "" at the cluster scope'
    )
    assert core.list_pod_for_all_namespaces(limit=10).items == []  # the fault was used up


def test_injected_500_and_429(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.fail(500)
    kube.fail(429)
    for code, reason in ((500, "InternalError"), (429, "TooManyRequests")):
        with pytest.raises(ApiException) as caught:
            core.list_namespaced_pod("shop")
        assert (caught.value.status, status_of(caught.value)["reason"]) == (code, reason)


def test_urllib3_silently_retries_a_429_with_retry_after(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    # Worth knowing when testing back-off: the client never sees this 429.
    kube.fail(429, retry_after=1)

    assert core.list_namespaced_pod("shop").items == []
    assert len(kube.requests) == 2


def test_a_slow_answer_hits_the_request_timeout(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    # urllib3 retries a timed-out GET three times on its own, so every attempt must be slow.
    kube.delay(2.0, times=4)

    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.MaxRetryError) as caught:
        core.list_namespaced_pod("shop", _request_timeout=0.2)

    assert isinstance(caught.value.reason, urllib3.exceptions.ReadTimeoutError)
    assert time.monotonic() - started < 1.9
    assert len(kube.requests) == 4


# -- single pods, logs, events --------------------------------------------------------


def test_reads_pods_shaped_like_real_ones(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.set_pods(
        [
            make_pod("api-7d9f8b6c5d-x2x9k", "shop", waiting_reason="CrashLoopBackOff", terminated_reason="OOMKilled"),
            make_pod("api-7d9f8b6c5d-p4w7z", "shop", "Pending", waiting_reason="ImagePullBackOff"),
            make_pod("migrate-5x7kq", "shop", "Failed", owner_kind="Job"),
        ]
    )

    crashing = core.read_namespaced_pod("api-7d9f8b6c5d-x2x9k", "shop")
    app = crashing.status.container_statuses[0]
    assert crashing.metadata.owner_references[0].kind == "ReplicaSet"
    assert crashing.metadata.labels["pod-template-hash"] == "7d9f8b6c5d"
    assert crashing.status.phase == "Running"
    assert app.state.waiting.reason == "CrashLoopBackOff"
    assert (app.last_state.terminated.reason, app.last_state.terminated.exit_code) == ("OOMKilled", 137)
    assert app.restart_count == 3
    assert not app.ready
    assert crashing.status.container_statuses[1].ready
    assert crashing.metadata.managed_fields

    pending = core.read_namespaced_pod("api-7d9f8b6c5d-p4w7z", "shop")
    assert pending.status.start_time is None
    assert pending.status.container_statuses[0].state.waiting.reason == "ImagePullBackOff"

    failed = core.read_namespaced_pod("migrate-5x7kq", "shop")
    assert failed.status.container_statuses[0].state.terminated.reason == "Error"
    assert failed.spec.restart_policy == "Never"

    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod("gone", "shop")
    assert caught.value.status == 404
    assert status_of(caught.value)["message"] == 'pods "gone" not found'


def test_logs_honour_container_tail_lines_and_limit_bytes(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.add_pod(make_pod("api-7d9f8b6c5d-x2x9k", "shop"))
    kube.add_pod(make_pod("api-7d9f8b6c5d-p4w7z", "shop", "Pending"))
    kube.set_logs("shop", "api-7d9f8b6c5d-x2x9k", "one\ntwo\nthree\nfour\n", container="api")

    assert core.read_namespaced_pod_log("api-7d9f8b6c5d-x2x9k", "shop", container="api") == "one\ntwo\nthree\nfour\n"
    assert (
        core.read_namespaced_pod_log("api-7d9f8b6c5d-x2x9k", "shop", container="api", tail_lines=2) == "three\nfour\n"
    )
    assert core.read_namespaced_pod_log("api-7d9f8b6c5d-x2x9k", "shop", container="api", limit_bytes=6) == "one\ntw"
    assert kube.requests[-1].param("limitBytes") == "6"

    with pytest.raises(ApiException) as caught:  # two containers: the API server wants a name
        core.read_namespaced_pod_log("api-7d9f8b6c5d-x2x9k", "shop")
    assert status_of(caught.value)["message"] == (
        "a container name must be specified for pod api-7d9f8b6c5d-x2x9k, choose one of: [api log-shipper]"
    )
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("api-7d9f8b6c5d-p4w7z", "shop", container="api")
    assert caught.value.status == 400
    assert "is waiting to start: ContainerCreating" in status_of(caught.value)["message"]


def test_events_by_field_selector(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    now = datetime.now(UTC)
    kube.add_event(make_event("shop", "api-1", "BackOff", "Back-off restarting failed container", count=12))
    kube.add_event(make_event("shop", "api-2", "Unhealthy", "Readiness probe failed", last_seen=now))
    kube.add_event(make_event("shop", "api", "ScalingReplicaSet", "Scaled up", kind="Deployment", event_type="Normal"))
    kube.add_event(make_event("pay", "api-1", "OOMKilling", "Memory cgroup out of memory", last_seen=now))

    events = core.list_namespaced_event("shop", field_selector="involvedObject.name=api-1,involvedObject.kind=Pod")
    assert events.kind == "EventList"
    assert [(e.reason, e.count, e.type) for e in events.items] == [("BackOff", 12, "Warning")]
    assert events.items[0].last_timestamp - events.items[0].first_timestamp == timedelta(minutes=11)

    everywhere = core.list_event_for_all_namespaces(field_selector="involvedObject.name=api-1")
    assert sorted(e.metadata.namespace for e in everywhere.items) == ["pay", "shop"]
    in_pay = core.list_event_for_all_namespaces(field_selector="involvedObject.namespace=pay")
    assert [e.reason for e in in_pay.items] == ["OOMKilling"]
    not_pods = core.list_namespaced_event("shop", field_selector="involvedObject.kind!=Pod")
    assert [e.involved_object.kind for e in not_pods.items] == ["Deployment"]

    with pytest.raises(ApiException) as caught:
        core.list_namespaced_event("shop", field_selector="involvedObject.colour=red")
    assert (caught.value.status, status_of(caught.value)["message"]) == (
        400,
        "field label not supported: involvedObject.colour",
    )


# -- custom objects ---------------------------------------------------------------------


def test_custom_objects_create_conflict_get_and_patch(kube: KubeApiServer, custom: client.CustomObjectsApi) -> None:
    created = custom.create_namespaced_custom_object(GROUP, VERSION, "whooper", PLURAL, incident("crash-1"))
    assert created["metadata"]["uid"]
    assert created["metadata"]["generation"] == 1
    assert created["metadata"]["creationTimestamp"].endswith("Z")
    assert "status" not in created  # the status subresource owns .status

    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(GROUP, VERSION, "whooper", PLURAL, incident("crash-1"))
    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "AlreadyExists"
    assert status_of(caught.value)["message"] == f'{PLURAL}.{GROUP} "crash-1" already exists'

    fetched = custom.get_namespaced_custom_object(GROUP, VERSION, "whooper", PLURAL, "crash-1")
    assert fetched["spec"] == {"alertname": "PodCrashLooping", "severity": "critical"}

    patched = custom.patch_namespaced_custom_object(
        GROUP, VERSION, "whooper", PLURAL, "crash-1", {"spec": {"severity": "warning", "alertname": None}}
    )
    assert kube.requests[-1].header("Content-Type") == "application/merge-patch+json"
    assert patched["spec"] == {"severity": "warning"}
    assert patched["metadata"]["generation"] == 2
    assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])

    json_patched = custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        "whooper",
        PLURAL,
        "crash-1",
        [{"op": "add", "path": "/spec/runbook", "value": "https://runbooks/crash"}],
        _content_type="application/json-patch+json",
    )
    assert json_patched["spec"]["runbook"] == "https://runbooks/crash"

    with_status = custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, "whooper", PLURAL, "crash-1", {"status": {"phase": "Reported"}, "spec": {"severity": "x"}}
    )
    assert with_status["status"] == {"phase": "Reported"}
    assert with_status["spec"]["severity"] == "warning"  # /status writes .status only
    assert with_status["metadata"]["generation"] == 3
    status_view = custom.get_namespaced_custom_object_status(GROUP, VERSION, "whooper", PLURAL, "crash-1")
    assert status_view["status"]["phase"] == "Reported"
    assert kube.get_custom_object(GROUP, PLURAL, "whooper", "crash-1")["status"] == {"phase": "Reported"}


def test_custom_object_lists_and_unsupported_patches(kube: KubeApiServer, custom: client.CustomObjectsApi) -> None:
    for name, namespace in (("a", "whooper"), ("b", "whooper"), ("c", "other")):
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, incident(name))

    listed = custom.list_namespaced_custom_object(GROUP, VERSION, "whooper", PLURAL, limit=1)
    assert (listed["kind"], listed["apiVersion"]) == ("IncidentList", f"{GROUP}/{VERSION}")
    assert [item["metadata"]["name"] for item in listed["items"]] == ["a"]
    assert listed["items"][0]["kind"] == "Incident"  # unstructured items keep their type
    assert listed["metadata"]["remainingItemCount"] == 1
    everywhere = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
    assert [item["metadata"]["name"] for item in everywhere["items"]] == ["c", "a", "b"]  # "other/" < "whooper/"
    assert [o["metadata"]["name"] for o in kube.list_custom_objects(GROUP, PLURAL, "whooper")] == ["a", "b"]

    # A non-list body with the JSON patch type becomes a strategic merge patch in the client,
    # which custom resources refuse.
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, "whooper", PLURAL, "a", {"spec": {}}, _content_type="application/json-patch+json"
        )
    assert caught.value.status == 415
    assert kube.requests[-1].header("Content-Type") == "application/strategic-merge-patch+json"


# -- configuration, recording, command line ------------------------------------------------


def test_the_kubeconfig_loads_with_load_kube_config(kube: KubeApiServer, tmp_path: Path) -> None:
    path = kube.write_kubeconfig(tmp_path / "kube" / "config")
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=configuration)

    assert configuration.host == kube.url
    with client.ApiClient(configuration) as api:
        assert client.CoreV1Api(api).list_pod_for_all_namespaces().items == []
    request = kube.requests[-1]
    assert (request.method, request.path) == ("GET", "/api/v1/pods")
    assert request.header("Authorization") == f"Bearer {kube.token}"


def test_the_command_line_serves_generated_pods() -> None:
    port = free_port()
    command = [sys.executable, "-m", "devstack.kube_api", "--port", str(port), "--pods", "300", "--token", "cli-token"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"ready http://127.0.0.1:{port}"
        configuration = client.Configuration(host=f"http://127.0.0.1:{port}")
        configuration.api_key = {"BearerToken": "cli-token"}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
        with client.ApiClient(configuration) as api:
            core = client.CoreV1Api(api)
            pods = core.list_pod_for_all_namespaces(limit=1000).items
            phases = {pod.status.phase for pod in pods}
            warnings = core.list_event_for_all_namespaces(field_selector="type=Warning").items
            running = next(
                pod for pod in pods if pod.status.container_statuses and pod.status.container_statuses[0].started
            )
            app = running.spec.containers[0].name
            log = core.read_namespaced_pod_log(running.metadata.name, running.metadata.namespace, container=app)
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()

    assert len(pods) == 300
    assert phases == {"Running", "Pending", "Succeeded", "Failed"}
    assert {event.reason for event in warnings} >= {"BackOff", "Failed", "FailedScheduling"}
    assert log.count("\n") == 20
    assert process.returncode == 0
