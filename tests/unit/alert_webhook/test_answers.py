"""Every answer alert_webhook gives to a bad request, through functions-framework in this process.

None of these requests gets as far as the mail server, which is a closed port
here; the one that does shows that an unavailable mail server is a 503.
"""

from __future__ import annotations

import io
import json

import pytest
from flask.testing import FlaskClient

from devstack.ports import free_port
from tests.alertmanager_payloads import function_client, payload

TOKEN = "t0ken-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client() -> FlaskClient:
    return function_client(
        "alert_webhook",
        {
            "WEBHOOK_BEARER_TOKEN": TOKEN,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(free_port()),  # nothing listens: mail is unavailable
            "EMAIL_TIMEOUT_SECONDS": "2",
            "ALERT_EMAIL": "oncall@example.com",
            "WEBHOOK_MAX_BODY_BYTES": "4096",
        },
    )


def _post(client: FlaskClient, body: bytes | str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    response = client.post("/", data=body, headers={**AUTH, "Content-Type": "application/json", **(headers or {})})
    assert response.mimetype == "application/json"
    error: str = response.get_json().get("error", "")
    assert "Traceback" not in response.get_data(as_text=True)
    return response.status_code, error


def _small(name: str = "resolved") -> str:
    return json.dumps(payload(name))


def test_no_token_is_401(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    response = client.post("/", data=_small(), content_type="application/json")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    status, _ = _post(client, _small(), {"Authorization": "Bearer nope"})
    assert status == 401
    assert "nope" not in caplog.text
    assert "Request refused with 401: bearer token is not valid" in caplog.text


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_methods_other_than_post_are_405(client: FlaskClient, method: str) -> None:
    response = client.open("/", method=method, headers=AUTH)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_non_json_content_type_is_415(client: FlaskClient, content_type: str) -> None:
    status, error = _post(client, _small(), {"Content-Type": content_type})
    assert status == 415
    assert "send application/json" in error


def test_body_over_the_limit_is_413(client: FlaskClient) -> None:
    status, error = _post(client, json.dumps(payload("firing_mixed")) + " " * 4096)
    assert status == 413
    assert "limit of 4096 bytes" in error


def test_body_over_the_limit_without_content_length_is_413(client: FlaskClient) -> None:
    response = client.post(
        "/",
        input_stream=io.BytesIO(b" " * 6000),
        headers={**AUTH, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        # as gunicorn says of a chunked body; without it werkzeug reads nothing at all
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""},
    )
    assert response.request.content_length is None
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{", "body is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        (b"\xff\xfe\xfa", "not UTF-8"),
        ("[]", "payload: must be a JSON object"),
        ('{"version": "4", "status": "firing", "alerts": []}', "alerts: is empty"),
        ('{"version": "4", "status": "firing"}', "alerts: is missing"),
    ],
)
def test_malformed_json_or_payload_is_400_naming_what(client: FlaskClient, body: str | bytes, reason: str) -> None:
    status, error = _post(client, body)
    assert status == 400
    assert reason in error


def test_deep_nesting_is_400(client: FlaskClient) -> None:
    status, error = _post(client, "[" * 2000 + "]" * 2000)
    assert status == 400
    assert "too deeply nested" in error


def test_invalid_alert_field_is_named_and_logged(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    data = payload("resolved")
    data["alerts"][1]["labels"]["pod"] = None
    status, error = _post(client, json.dumps(data))
    assert status == 400
    assert error == "not an Alertmanager webhook notification: alerts[1].labels.pod: must be a string"
    assert f"Request refused with 400: {error}" in caplog.text


def test_mail_server_unavailable_is_503(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    status, error = _post(client, _small())
    assert status == 503
    assert "alert email could not be sent" in error
    assert "Received 2 alert(s) from Prometheus AlertManager" in caplog.text
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'whooper_emails_sent_total{status="failure",type="alert"} 1.0' in metrics
    assert 'whooper_http_requests_total{method="POST",route="/",status="503"} 1.0' in metrics


def test_missing_token_configuration_is_503_naming_the_variable() -> None:
    client = function_client("alert_webhook", {"SMTP_HOST": "127.0.0.1", "ALERT_EMAIL": "oncall@example.com"})
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "WEBHOOK_BEARER_TOKEN is not set" in response.get_json()["error"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": "Bearer wrong", "Content-Type": "application/json"}, 401),
        ({**AUTH, "Content-Type": "text/plain"}, 415),
        ({**AUTH, "Content-Type": "application/json", "Content-Length": "999999999"}, 413),
    ],
)
def test_a_refused_body_is_never_read(client: FlaskClient, headers: dict[str, str], status: int) -> None:
    """A sender cannot make the function buffer a body it refuses (functions-framework reads what is left)."""
    body = io.BytesIO(b"x" * 6000)
    response = client.post("/", input_stream=body, headers=headers)
    assert response.status_code == status
    assert response.get_json()["error"]
    assert body.tell() == 0
