"""What happens for a firing and a resolved alert: open once, report once, resolve once, mail once.

Every step that must happen once is recorded on the Incident before the
function answers, and every step checks the record first, so any delivery of
the same event (an Alertmanager repeat, a Broker redelivery after a 5xx) does
only what is still missing. Failures propagate: KubeUnavailable and MailError
become 503 at the HTTP door, and the Broker delivers again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudevents.http import CloudEvent
from prometheus_client import CollectorRegistry, Counter, Histogram

from incident_report.context import ContextReader
from incident_report.incidents import PHASE_OPEN, PHASE_RESOLVED, Incident, IncidentStore, incident_name
from incident_report.report import ReportInput, ReportRenderer
from incident_report.summarize import Summarizer
from whooper_common import events
from whooper_common.alertmanager import Alert, format_time
from whooper_common.mailer import Mailer
from whooper_common.metrics import NAMESPACE

log = logging.getLogger("whooper.incident_report")

FUNCTION = "incident_report"
# From a minute to a day, with 1 h in the middle: HighMTTR alerts on p95 > 1 h for critical incidents.
MTTR_BUCKETS = (60.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0)
_STATUS_SUMMARY_CHARS = 500


class IncidentMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.created = Counter(
            "incidents_created",
            "Incidents opened (an Incident resource created), by severity and the alert's namespace.",
            ["severity", "namespace"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self.mttr = Histogram(
            "incident_mttr_seconds",
            "Time from an alert's start to its resolution (endsAt - startsAt), by severity.",
            ["severity"],
            namespace=NAMESPACE,
            registry=registry,
            buckets=MTTR_BUCKETS,
        )


@dataclass(frozen=True)
class Outcome:
    incident: str
    action: str  # what this delivery did: report_sent, duplicate, already_resolved, resolved, ...
    reply: CloudEvent | None = None  # the incident event to answer with, only when something new happened


def _now() -> datetime:
    return datetime.now(UTC)


def incident_event(kind: str, incident: Incident, alert: Alert, extra: dict[str, Any]) -> CloudEvent:
    """``dev.whooper.incident.opened`` / ``.resolved``: the incident, as design.md describes it."""
    event_type = events.INCIDENT_OPENED if kind == "opened" else events.INCIDENT_RESOLVED
    data = {
        "id": incident.name,
        "alert": alert.name,
        "severity": alert.severity,
        "namespace": alert.namespace,
        "pod": alert.pod,
        "fingerprint": alert.fingerprint,
        "startsAt": format_time(alert.starts_at),
        "summary": str(incident.status.get("summary", "")),
        "summarySource": str(incident.status.get("summarySource", "")),
        **extra,
    }
    return CloudEvent(
        {
            "type": event_type,
            "source": events.source(FUNCTION),
            "id": f"{incident.name}-{kind}",
            "subject": incident.name,
            "datacontenttype": "application/json",
        },
        data,
    )


class IncidentFlow:
    def __init__(
        self,
        store: Callable[[], IncidentStore],
        reader: Callable[[], ContextReader],
        summarizer: Summarizer,
        renderer: ReportRenderer,
        mailer: Mailer,
        metrics: IncidentMetrics,
        now: Callable[[], datetime] = _now,
    ) -> None:
        self._store = store
        self._reader = reader
        self._summarizer = summarizer
        self._renderer = renderer
        self._mailer = mailer
        self._metrics = metrics
        self._now = now

    def _open(self, store: IncidentStore, alert: Alert, origin: dict[str, str]) -> Incident:
        incident, created = store.open(alert, origin)
        if created:
            self._metrics.created.labels(alert.severity, alert.namespace or "none").inc()
            log.info("incident opened", extra={"incident": incident.name, "alertname": alert.name})
        return incident

    def firing(self, alert: Alert, origin: dict[str, str]) -> Outcome:
        store = self._store()
        incident = self._open(store, alert, origin)
        if incident.resolved or incident.phase == PHASE_RESOLVED:
            log.info("alert already resolved; no report", extra={"incident": incident.name})
            return Outcome(incident.name, "already_resolved")
        if incident.report_sent:
            log.info("report already sent; nothing to do", extra={"incident": incident.name})
            return Outcome(incident.name, "duplicate")
        context = self._reader().for_alert(alert)
        summary = self._summarizer.summarize(alert, context)
        report = ReportInput(alert, incident.name, store.namespace, context, summary, origin.get("externalURL", ""))
        self._mailer.send(self._renderer.report(report))
        incident = store.update_status(
            incident,
            {
                "phase": PHASE_OPEN,
                "reportSentAt": format_time(self._now()),
                "summarySource": summary.source,
                "summary": summary.summary[:_STATUS_SUMMARY_CHARS],
            },
        )
        log.info("incident report sent", extra={"incident": incident.name, "summary_source": summary.source})
        return Outcome(incident.name, "report_sent", incident_event("opened", incident, alert, {}))

    def resolved(self, alert: Alert, origin: dict[str, str]) -> Outcome:
        store = self._store()
        incident = store.get(incident_name(alert))
        if incident is None:
            # The firing event never arrived (or was dead-lettered): record the incident now, so MTTR is not lost.
            log.warning("resolved alert had no incident; recording it", extra={"alertname": alert.name})
            incident = self._open(store, alert, origin)
        if not incident.resolved:
            ended = alert.ends_at or self._now()
            mttr = max(0.0, (ended - alert.starts_at).total_seconds())
            incident = store.update_status(
                incident,
                {
                    "phase": PHASE_RESOLVED,
                    "resolvedAt": format_time(self._now()),
                    "endsAt": format_time(ended),
                    "mttrSeconds": round(mttr, 3),
                },
            )
            self._metrics.mttr.labels(alert.severity).observe(mttr)
            log.info("incident resolved", extra={"incident": incident.name, "mttr_seconds": mttr})
        if incident.resolution_sent:
            return Outcome(incident.name, "duplicate")
        mttr = float(incident.status.get("mttrSeconds") or 0.0)
        summary = str(incident.status.get("summary", ""))
        self._mailer.send(self._renderer.resolution(alert, incident.name, store.namespace, mttr, summary))
        incident = store.update_status(incident, {"resolutionSentAt": format_time(self._now())})
        extra = {"mttrSeconds": mttr, "endsAt": str(incident.status.get("endsAt", ""))}
        return Outcome(incident.name, "resolved", incident_event("resolved", incident, alert, extra))
