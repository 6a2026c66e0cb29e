"""The incident report email and the short resolution email (Jinja2 templates, HTML autoescaped, plus text).

Everything rendered is already redacted; autoescaping keeps any markup that
came from labels, logs or the model inert, and only http(s) links are offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from incident_report.answer import Summary, plain_text
from incident_report.context import Context
from incident_report.redact import redact
from whooper_common.alertmanager import Alert, format_time
from whooper_common.links import http_url
from whooper_common.mailer import Email, one_line

TEMPLATES = Path(__file__).parent / "templates"
REPORT = "incident_report"
RESOLVED = "incident_resolved"
_COLOURS = {"critical": "#cf222e", "warning": "#bc4c00", "info": "#0969da"}
_SUBJECT_LIMIT = 150


@dataclass(frozen=True)
class ReportInput:
    alert: Alert
    incident: str
    incident_namespace: str
    context: Context
    summary: Summary
    external_url: str = ""


def make_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # Autoescape on for the HTML templates (the text ones are mailed as text/plain, where escaping would garble).
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def links(alert: Alert, external_url: str) -> list[tuple[str, str]]:
    candidates = [
        ("Runbook", alert.annotations.get("runbook_url", "")),
        ("Alert source in Prometheus", alert.generator_url),
        ("Alertmanager", external_url),
        ("Dashboard", alert.annotations.get("dashboard_url", "")),
    ]
    return [(label, url) for label, url in ((label, http_url(url)) for label, url in candidates) if url]


def _where(alert: Alert) -> str:
    if alert.namespace and alert.pod:
        return f"pod {alert.namespace}/{alert.pod}"
    return f"namespace {alert.namespace}" if alert.namespace else ""


def report_subject(alert: Alert, summary: Summary) -> str:
    """``[CRITICAL] Incident PodCrashLooping: <AI suggestion or where it happens>``."""
    detail = summary.subject or _where(alert) or plain_text(alert.annotations.get("summary", ""))
    subject = f"[{alert.severity.upper()}] Incident {alert.name}" + (f": {detail}" if detail else "")
    return one_line(subject, _SUBJECT_LIMIT)


def format_duration(seconds: float) -> str:
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours or days:
        parts.append(f"{hours}h")
    if minutes or hours or days:
        parts.append(f"{minutes}m")
    parts.append(f"{secs}s")
    return " ".join(parts)


class ReportRenderer:
    def __init__(self, environment: jinja2.Environment | None = None) -> None:
        self._env = environment or make_environment()

    def _render(self, name: str, values: dict[str, Any]) -> tuple[str, str]:
        text = self._env.get_template(f"{name}.txt").render(values)
        return text, self._env.get_template(f"{name}.html").render(values)

    def report(self, data: ReportInput) -> Email:
        alert = data.alert
        subject = report_subject(alert, data.summary)
        values = {
            "subject": subject,
            "alert": alert,
            "incident": data.incident,
            "incident_namespace": data.incident_namespace,
            "where": _where(alert),
            "started": format_time(alert.starts_at),
            "alert_summary": plain_text(alert.annotations.get("summary", "")),
            "description": plain_text(alert.annotations.get("description", "")),
            "summary": data.summary,
            "context": data.context,
            "links": links(alert, data.external_url),
            "colour": _COLOURS.get(alert.severity, "#57606a"),
        }
        text, html = self._render(REPORT, values)
        return Email(subject, text, html, REPORT)

    def resolution(self, alert: Alert, incident: str, incident_namespace: str, mttr: float, summary: str) -> Email:
        subject = one_line(f"[RESOLVED] Incident {alert.name}" + (f": {_where(alert)}" if _where(alert) else ""))
        values = {
            "subject": subject,
            "alert": alert,
            "incident": incident,
            "incident_namespace": incident_namespace,
            "where": _where(alert),
            "started": format_time(alert.starts_at),
            "ended": format_time(alert.ends_at),
            "mttr": format_duration(mttr),
            "summary": redact(summary),
        }
        text, html = self._render(RESOLVED, values)
        return Email(subject, text, html, RESOLVED)
