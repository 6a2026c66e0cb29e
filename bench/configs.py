"""Valid configurations for the functions under measurement, pointing only at the loopback.

A misconfigured function answers 503 everywhere, which would time the error
path; these settings make each function build its real app.
"""

from __future__ import annotations

from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parent
BARE_SOURCE = BENCH / "bare" / "main.py"
WEBHOOK_TOKEN = "bench-webhook-token"  # noqa: S105 (a loopback-only token the bench hands to both sides)
KUBE_TOKEN = "bench-kube-token"  # noqa: S105
FUNCTIONS = ("alert_webhook", "pod_exporter", "incident_report")


def write_kubeconfig(path: Path, server: str, token: str = KUBE_TOKEN) -> Path:
    """A kubeconfig for the Kubernetes API stand-in served in another process."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "bench", "cluster": {"server": server}}],
        "users": [{"name": "bench", "user": {"token": token}}],
        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench", "namespace": "default"}}],
        "current-context": "bench",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def mail_env(smtp_port: int) -> dict[str, str]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "EMAIL_FROM": "whooper@bench.invalid",
        "ALERT_EMAIL": "oncall@bench.invalid",
        "LOG_LEVEL": "WARNING",
    }


def alert_webhook_env(smtp_port: int, sink_url: str) -> dict[str, str]:
    return {**mail_env(smtp_port), "WEBHOOK_BEARER_TOKEN": WEBHOOK_TOKEN, "K_SINK": sink_url}


def pod_exporter_env(kubeconfig: Path, pushgateway_url: str) -> dict[str, str]:
    return {"KUBECONFIG": str(kubeconfig), "PUSHGATEWAY_URL": pushgateway_url, "LOG_LEVEL": "WARNING"}


def incident_report_env(kubeconfig: Path, smtp_port: int, gemini_url: str) -> dict[str, str]:
    # A key and a base URL make the AI path configured, so a cold start shows whether the AI client loads early.
    return {
        **mail_env(smtp_port),
        "KUBECONFIG": str(kubeconfig),
        "INCIDENT_NAMESPACE": "whooper",
        "GEMINI_API_KEY": "bench-gemini-key",
        "GEMINI_BASE_URL": gemini_url,
    }
