"""The template summary, built from the alert and the context alone when Gemini cannot give one.

It says plainly that it is a template and why, quotes the warning events and
the log lines that look like errors, and lists the commands an engineer runs
first. Everything in it comes from the (redacted) alert and context.
"""

from __future__ import annotations

import re

from incident_report.answer import Evidence, Summary, plain_text
from incident_report.context import Context
from incident_report.redact import redact
from whooper_common.alertmanager import Alert, format_time

# Event reasons that point at a cause, and the cause in words.
_CAUSES = {
    "OOMKilling": "a container ran out of memory (OOMKilled)",
    "OOMKilled": "a container ran out of memory (OOMKilled)",
    "BackOff": "a container keeps crashing and Kubernetes is backing off its restarts",
    "CrashLoopBackOff": "a container keeps crashing and Kubernetes is backing off its restarts",
    "Failed": "a container or its image failed to start",
    "ErrImagePull": "the image cannot be pulled",
    "ImagePullBackOff": "the image cannot be pulled",
    "FailedScheduling": "the pod cannot be scheduled (resources, affinity or taints)",
    "FailedMount": "a volume cannot be mounted",
    "FailedCreatePodSandBox": "the pod sandbox (network or runtime) cannot be created",
    "Unhealthy": "a liveness or readiness probe is failing",
    "Evicted": "the node evicted the pod (resource pressure)",
    "NodeNotReady": "the pod's node is not ready",
}
_ERRORISH = re.compile(r"(?i)\b(error|exception|fatal|panic|traceback|failed|refused|denied|timeout|oom|killed)\b")
_MAX_QUOTES = 4


def _likely_cause(alert: Alert, context: Context) -> str:
    for event in reversed(context.events):
        cause = _CAUSES.get(event.reason)
        if cause:
            return f"From the pod's events: {cause} (event {event.reason})."
    reason = alert.labels.get("reason", "")
    if reason:
        return f"The alert reports the reason {reason}; the context does not show more."
    return "Not determined: the template does not analyse the context. Read the events and the log below."


def _evidence(context: Context) -> tuple[Evidence, ...]:
    found = [Evidence(f"Warning event {e.reason}", e.line()) for e in context.events if e.type == "Warning"]
    errors = [line for line in context.log_lines if _ERRORISH.search(line)]
    found += [Evidence("Log line that looks like an error", line) for line in errors]
    return tuple(found[-_MAX_QUOTES:])


def _next_steps(alert: Alert, context: Context) -> tuple[str, ...]:
    steps: list[str] = []
    if context.has_pod:
        target = f"-n {context.namespace} {context.pod}"
        steps.append(f"kubectl describe pod {target}")
        container = f" -c {context.container}" if context.container else ""
        steps.append(f"kubectl logs {target}{container}" + (" --previous" if context.log_from_previous else ""))
        steps.append(f"kubectl get events -n {context.namespace} --field-selector involvedObject.name={context.pod}")
    runbook = alert.annotations.get("runbook_url", "")
    if runbook:
        steps.append("Follow the alert's runbook (linked below).")
    action = alert.annotations.get("action", "")
    if action:
        steps.append(plain_text(action))
    return tuple(steps) or ("Check the alert's source in Prometheus (linked below).",)


def template_summary(alert: Alert, context: Context, reason: str) -> Summary:
    """A summary from the alert and the context, marked as a template, with ``reason`` saying why."""
    where = f" for pod {context.namespace}/{context.pod}" if context.has_pod else ""
    described = redact(alert.annotations.get("description") or alert.annotations.get("summary") or "")
    text = (
        f"Template summary (no AI summary: {reason}). {alert.name} ({alert.severity}) has been firing{where} "
        f"since {format_time(alert.starts_at)}."
    )
    if described:
        text += f" {plain_text(described)}"
    warnings = sum(1 for e in context.events if e.type == "Warning")
    if context.has_pod:
        text += f" {warnings} warning event(s) and {len(context.log_lines)} log line(s) were collected."
    return Summary(
        summary=text,
        likely_cause=_likely_cause(alert, context),
        evidence=_evidence(context),
        next_steps=_next_steps(alert, context),
        subject="",
        source="template",
        fallback_reason=reason,
    )
