"""What pod_exporter answers before it touches the cluster: requests that are not a run get 4xx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from tests.kubeconfig import write_kubeconfig

MAIN = Path(__file__).resolve().parents[2] / "functions" / "pod_exporter" / "main.py"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    # Nothing listens at either address: a request that got as far as a run would fail with 5xx, not 4xx.
    monkeypatch.setenv("PUSHGATEWAY_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig")))
    return create_app(target="handle", source=str(MAIN)).test_client()


def binary_event(event_type: str) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-type": event_type,
        "ce-source": "/apis/v1/namespaces/whooper/pingsources/pod-exporter",
        "ce-id": "5d1c9e5a-1b2c-4d3e-8f4a-6b7c8d9e0f1a",
        "Content-Type": "application/json",
    }


def test_an_event_of_another_type_is_refused_with_the_type_named(client: Any) -> None:
    answer = client.post("/", headers=binary_event("dev.whooper.alert.firing"), data=b"{}")
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert "dev.knative.sources.ping" in error
    assert "'dev.whooper.alert.firing'" in error


def test_a_structured_event_of_another_type_is_refused(client: Any) -> None:
    event = {"specversion": "1.0", "type": "com.example.other", "source": "/x", "id": "1", "data": {}}
    answer = client.post("/", data=json.dumps(event), content_type="application/cloudevents+json")
    assert answer.status_code == 400
    assert "'com.example.other'" in answer.get_json()["error"]


def test_an_event_missing_required_attributes_is_refused(client: Any) -> None:
    headers = {"ce-specversion": "1.0", "ce-type": "dev.knative.sources.ping", "Content-Type": "application/json"}
    answer = client.post("/", headers=headers, data=b"{}")
    assert answer.status_code == 400
    assert "not a valid CloudEvent" in answer.get_json()["error"]


def test_a_malformed_structured_event_is_refused(client: Any) -> None:
    answer = client.post("/", data=b"{not json", content_type="application/cloudevents+json")
    assert answer.status_code == 400
    assert "not a valid CloudEvent" in answer.get_json()["error"]


def test_a_batch_is_refused(client: Any) -> None:
    answer = client.post("/", data=b"[]", content_type="application/cloudevents-batch+json")
    assert answer.status_code == 400
    assert "batch" in answer.get_json()["error"]


def test_get_on_the_run_route_is_not_allowed(client: Any) -> None:
    answer = client.get("/")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"


def test_run_and_error_counters_exist_from_the_start(client: Any) -> None:
    text = client.get("/metrics").get_data(as_text=True)
    assert 'whooper_pod_exporter_runs_total{outcome="success"} 0.0' in text
    assert 'whooper_pod_exporter_runs_total{outcome="failure"} 0.0' in text
    for kind in ("kubernetes_forbidden", "kubernetes_timeout", "pushgateway_unreachable"):
        assert f'whooper_pod_exporter_errors_total{{kind="{kind}"}} 0.0' in text


def test_without_a_pushgateway_url_every_path_answers_503_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUSHGATEWAY_URL", raising=False)
    client = create_app(target="handle", source=str(MAIN)).test_client()
    for answer in (client.post("/"), client.get("/healthz")):
        assert answer.status_code == 503
        assert "PUSHGATEWAY_URL is not set" in answer.get_json()["error"]
