"""Each function loads through functions-framework by file path and answers /healthz and /metrics."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from functions_framework import create_app

from tests.kubeconfig import write_kubeconfig

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
NAMES = ["alert_webhook", "pod_exporter", "incident_report"]
# The variables of ../shared/design.md (and LOG_LEVEL), which only an app build may read.
CONTRACT_VARIABLES = frozenset(
    {
        "WEBHOOK_BEARER_TOKEN",
        "WEBHOOK_ALLOW_UNAUTHENTICATED",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_USERNAME",
        "SMTP_PASSWORD",
        "SMTP_STARTTLS",
        "SMTP_SSL",
        "EMAIL_FROM",
        "EMAIL_APP_URL",
        "ALERT_EMAIL",
        "DEFAULT_EMAIL_RECIPIENT",
        "K_SINK",
        "K_CE_OVERRIDES",
        "PUSHGATEWAY_URL",
        "WATCH_NAMESPACES",
        "KUBECONFIG",
        "GEMINI_API_KEY",
        "GEMINI_MODEL",
        "GEMINI_BASE_URL",
        "GEMINI_TIMEOUT_SECONDS",
        "INCIDENT_NAMESPACE",
        "LOG_LEVEL",
    }
)


@pytest.mark.parametrize("name", NAMES)
def test_function_serves_health_and_metrics(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOW_UNAUTHENTICATED", "true")
    monkeypatch.setenv("PUSHGATEWAY_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(tmp_path / "kubeconfig")))
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")  # the mailers need a server and recipients to build
    monkeypatch.setenv("ALERT_EMAIL", "oncall@example.com")
    client = create_app(target="handle", source=str(FUNCTIONS / name / "main.py")).test_client()

    health = client.get("/healthz")
    assert health.status_code == 200, health.get_data(as_text=True)
    assert health.get_json()["function"] == name

    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    text = metrics.get_data(as_text=True)
    assert 'whooper_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert "whooper_http_request_duration_seconds_bucket" in text
    assert "whooper_process_cpu_seconds_total" in text


@pytest.mark.parametrize("name", NAMES)
def test_importing_main_reads_no_configuration(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Configuration is read when the app is built (first request), never at import."""
    reads: list[str] = []

    class Spy(dict[str, str]):
        def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
            reads.append(key)
            return super().get(key, default)

        def __getitem__(self, key: str) -> str:
            reads.append(key)
            return super().__getitem__(key)

    monkeypatch.setattr(os, "environ", Spy(os.environ))
    app = create_app(target="handle", source=str(FUNCTIONS / name / "main.py"))
    assert [key for key in reads if key in CONTRACT_VARIABLES] == []
    assert app.test_client().get("/healthz").status_code in (200, 503)
    assert "LOG_LEVEL" in reads  # the first request built the app, reading its configuration then
