"""The alert email: subject, HTML and plain text from one notification.

Labels and annotations are untrusted. The HTML template autoescapes, links are
only made from http(s) URLs, and the subject goes through ``one_line`` in the
mailer, so no label can inject markup or a mail header.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jinja2

from whooper_common.alertmanager import Alert, Notification, format_time
from whooper_common.links import http_url
from whooper_common.mailer import Email, one_line

TEMPLATES = Path(__file__).parent / "templates"
EMAIL_KIND = "alert"

# Colours chosen for contrast on white and in dark-mode clients that keep inline colours.
SEVERITY_COLOURS = {"critical": "#b71c1c", "error": "#c62828", "warning": "#e65100", "info": "#1565c0"}
OTHER_SEVERITY_COLOUR = "#546e7a"
RESOLVED_COLOUR = "#2e7d32"
SEVERITY_ORDER = ("critical", "error", "warning", "info")


@dataclass(frozen=True)
class AlertView:
    """What the templates show of one alert, already formatted."""

    name: str
    status: str
    severity: str
    colour: str
    namespace: str
    pod: str
    summary: str
    description: str
    action: str
    runbook_url: str
    duration: str
    starts_at: str
    ends_at: str
    source_url: str
    other_labels: tuple[tuple[str, str], ...]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # Escape everything except the plain-text part, which must show characters as they are.
        autoescape=jinja2.select_autoescape(disabled_extensions=("txt.j2",), default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def human_duration(seconds: float) -> str:
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes and not days:
        parts.append(f"{minutes}m")
    if not (days or hours):
        parts.append(f"{secs}s")
    return " ".join(parts)


def severity_colour(severity: str) -> str:
    return SEVERITY_COLOURS.get(severity.lower(), OTHER_SEVERITY_COLOUR)


def _shown_labels(alert: Alert) -> tuple[tuple[str, str], ...]:
    shown_elsewhere = {"alertname", "severity", "namespace", "pod"}
    return tuple(sorted((one_line(k), one_line(v)) for k, v in alert.labels.items() if k not in shown_elsewhere))


def _plain(value: str) -> str:
    """One line ending style: a bare CR in a body is refused by some mail servers."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def alert_view(alert: Alert, now: datetime) -> AlertView:
    return AlertView(
        name=one_line(alert.name),
        status=alert.status,
        severity=one_line(alert.severity, 64),
        colour=RESOLVED_COLOUR if alert.status == "resolved" else severity_colour(alert.severity),
        namespace=one_line(alert.namespace),
        pod=one_line(alert.pod),
        summary=_plain(alert.annotations.get("summary", "")),
        description=_plain(alert.annotations.get("description", "")),
        action=_plain(alert.annotations.get("action", "")),
        runbook_url=http_url(alert.annotations.get("runbook_url", "")),
        duration=human_duration(alert.duration_seconds(now)),
        starts_at=format_time(alert.starts_at),
        ends_at=format_time(alert.ends_at) if alert.status == "resolved" and alert.ends_at else "",
        source_url=http_url(alert.generator_url),
        other_labels=_shown_labels(alert),
    )


def notification_name(notification: Notification) -> str:
    """The alert name for the subject: the group's common one, else the first alert's and how many others."""
    common = notification.common_labels.get("alertname") or notification.group_labels.get("alertname")
    if common:
        return common
    names = sorted({alert.name for alert in notification.alerts})
    return names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"


def notification_severity(notification: Notification) -> str:
    """The common severity, else the most severe one present."""
    common = notification.common_labels.get("severity")
    if common:
        return common
    present = {alert.severity.lower() for alert in notification.alerts}
    return next((s for s in SEVERITY_ORDER if s in present), sorted(present)[0])


def subject(notification: Notification) -> str:
    """``[FIRING:2] PodDown (critical)``: status, how many alerts have it, name, severity."""
    count = sum(1 for alert in notification.alerts if alert.status == notification.status)
    name = notification_name(notification)
    return one_line(f"[{notification.status.upper()}:{count}] {name} ({notification_severity(notification)})")


class Renderer:
    """Loads the templates once; renders one :class:`Email` per notification."""

    def __init__(self) -> None:
        environment = _environment()
        self._html = environment.get_template("alert.html.j2")
        self._text = environment.get_template("alert.txt.j2")

    def render(self, notification: Notification, now: datetime) -> Email:
        firing = [alert_view(a, now) for a in notification.alerts if a.status == "firing"]
        resolved = [alert_view(a, now) for a in notification.alerts if a.status == "resolved"]
        status = notification.status
        title = subject(notification)
        context = {
            "subject": title,
            "headline": one_line(f"{notification_name(notification)} ({notification_severity(notification)})"),
            "status": status,
            "banner_colour": RESOLVED_COLOUR
            if status == "resolved"
            else severity_colour(notification_severity(notification)),
            "firing": firing,
            "resolved": resolved,
            "truncated": notification.truncated_alerts,
            "group_labels": sorted((one_line(k), one_line(v)) for k, v in notification.group_labels.items()),
            "receiver": one_line(notification.receiver),
            "alertmanager_url": http_url(notification.external_url),
            "generated_at": format_time(now),
        }
        return Email(
            subject=title,
            text=self._text.render(context),
            html=self._html.render(context),
            kind=EMAIL_KIND,
        )
