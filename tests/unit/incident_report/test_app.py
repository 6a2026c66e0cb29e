"""The HTTP door of incident_report: what it answers to bad, foreign and dead-lettered events, before any work."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import flask
import pytest
from cloudevents.http import CloudEvent
from werkzeug.test import Client

from incident_report.app import build
from tests.incident_report_data import POD_FIRING, binary, event, structured
from whooper_common.config import ConfigError
from whooper_common.httpapp import FunctionApp


@pytest.fixture
def app(tmp_path: Path) -> FunctionApp:
    # A cluster nobody answers at: these requests must be turned away before any Kubernetes call.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({"clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}]}))
    return build({"KUBECONFIG": str(kubeconfig), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": "9", "ALERT_EMAIL": "a@b.c"})


@pytest.fixture
def client(app: FunctionApp) -> Client:
    server = flask.Flask("incident_report_test")
    server.add_url_rule("/", "root", lambda: app(flask.request), methods=["POST"])
    server.add_url_rule("/<path:path>", "any", lambda path: app(flask.request), methods=["GET", "POST"])
    return server.test_client()


def _sample(app: FunctionApp, name: str, labels: dict[str, str]) -> float | None:
    return app.registry.get_sample_value(name, labels)


def test_a_request_that_is_not_a_cloudevent_gets_400_with_the_reason(client: Client) -> None:
    response = client.post("/", data=b'{"hello": 1}', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not a valid CloudEvent" in response.get_json()["error"]


def test_an_alert_event_whose_data_is_not_an_alert_gets_400_naming_the_field(client: Client) -> None:
    headers, body = binary(event(POD_FIRING, startsAt="yesterday"))
    response = client.post("/", data=body, headers=headers)
    assert response.status_code == 400
    assert "data.startsAt" in response.get_json()["error"]


def test_an_event_whose_type_and_status_disagree_gets_400(client: Client) -> None:
    headers, body = structured(event(POD_FIRING, status="resolved", endsAt="2026-12-03T10:05:00Z"))
    response = client.post("/", data=body, headers=headers)
    assert response.status_code == 400
    assert "does not match data.status 'resolved'" in response.get_json()["error"]


def test_event_data_that_is_not_an_object_gets_400(client: Client) -> None:
    ping = CloudEvent({"type": "dev.whooper.alert.firing", "source": "/x", "id": "1"}, ["not", "an", "alert"])
    headers, body = binary(ping)
    response = client.post("/", data=body, headers=headers)
    assert response.status_code == 400
    assert "JSON object" in response.get_json()["error"]


@pytest.mark.parametrize(
    "event_type", ["dev.knative.sources.ping", "com.example.something", "dev.whooper.incident.opened"]
)
def test_unknown_and_own_event_types_are_acknowledged_without_work_or_reply(
    client: Client, event_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    headers, body = binary(CloudEvent({"type": event_type, "source": "/x", "id": "e-1"}, {"any": "thing"}))
    response = client.post("/", data=body, headers=headers)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert "ce-type" not in response.headers
    assert any(event_type == getattr(r, "event_type", None) for r in caplog.records)


def test_dead_letters_are_logged_counted_and_acknowledged(
    app: FunctionApp, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    dead = event(POD_FIRING)
    dead["knativeerrorcode"] = "503"
    dead["knativeerrordest"] = "http://incident-report.whooper.svc.cluster.local"
    dead["knativeerrordata"] = base64.b64encode(b'{"error": "smtp down", "password": "hunter2"}').decode()
    headers, body = binary(dead)
    response = client.post("/dead-letter", data=body, headers=headers)
    assert response.status_code == 204
    labels = {"type": "dev.whooper.alert.firing"}
    assert _sample(app, "whooper_events_dead_lettered_total", labels) == 1
    record = next(r for r in caplog.records if r.getMessage().startswith("event dead-lettered"))
    assert record.error_code == "503"  # type: ignore[attr-defined]
    assert "smtp down" in record.error_data  # type: ignore[attr-defined]
    assert "hunter2" not in record.error_data  # type: ignore[attr-defined]


def test_dead_letters_of_foreign_types_share_one_label(app: FunctionApp, client: Client) -> None:
    for number in range(3):
        headers, body = binary(CloudEvent({"type": f"com.example.t{number}", "source": "/x", "id": str(number)}, {}))
        assert client.post("/dead-letter", data=body, headers=headers).status_code == 204
    assert _sample(app, "whooper_events_dead_lettered_total", {"type": "other"}) == 3


def test_a_dead_letter_that_is_not_a_cloudevent_gets_400(client: Client) -> None:
    assert client.post("/dead-letter", data=b"x", headers={"Content-Type": "text/plain"}).status_code == 400


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SMTP_HOST": "h", "ALERT_EMAIL": "a@b.c"}, "KUBECONFIG"),
        ({"KUBECONFIG": "/nonexistent/kubeconfig"}, "/nonexistent/kubeconfig"),
        ({"INCIDENT_NAMESPACE": "Not_A_Namespace"}, "INCIDENT_NAMESPACE"),
        ({"GEMINI_TIMEOUT_SECONDS": "soon"}, "GEMINI_TIMEOUT_SECONDS"),
        ({"GEMINI_BASE_URL": "ftp://x"}, "GEMINI_BASE_URL"),
        ({"CONTEXT_LOG_LINES": "-1"}, "CONTEXT_LOG_LINES"),
    ],
)
def test_bad_configuration_names_the_variable(env: dict[str, str], variable: str, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    full = {"KUBECONFIG": str(kubeconfig), "SMTP_HOST": "h", "ALERT_EMAIL": "a@b.c", **env}
    if "KUBECONFIG" not in env and variable == "KUBECONFIG":
        del full["KUBECONFIG"]
    with pytest.raises(ConfigError, match=variable):
        build(full)
