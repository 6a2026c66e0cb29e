"""The Incident custom resource (``incidents.whooper.dev/v1alpha1``): the function's only memory.

An incident's name is derived from the alert's fingerprint and startsAt, so
every delivery of the same firing alert (Alertmanager repeats, Broker
redeliveries) maps to the same resource: a create that answers 409 means the
incident is already open. What has been done for it (report sent, resolved,
resolution sent) is written to its status subresource, so a redelivery after a
failure finishes the job instead of repeating it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from incident_report.kubeapi import KubeRequestError, call
from incident_report.redact import redact, redact_mapping
from whooper_common.alertmanager import Alert, format_time

GROUP = "whooper.dev"
VERSION = "v1alpha1"
PLURAL = "incidents"
KIND = "Incident"

PHASE_OPEN = "Open"
PHASE_RESOLVED = "Resolved"

_NAME_SLUG = 40  # + "-" + 16 hex digits stays within a 63-character DNS label
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]+")


def incident_name(alert: Alert) -> str:
    """A DNS-1123 label naming the incident of this alert occurrence: ``<alertname>-<hash of fingerprint+startsAt>``.

    The alert name is only for people reading ``kubectl get incidents``; the hash
    is what makes the name unique and stable across repeats and redeliveries.
    """
    key = f"{alert.fingerprint}/{format_time(alert.starts_at)}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    slug = re.sub(r"[^a-z0-9]+", "-", alert.name.lower()).strip("-")[:_NAME_SLUG].strip("-")
    return f"{slug or 'alert'}-{digest}"


def label_value(value: str) -> str:
    """A Kubernetes label value (63 characters of ``[A-Za-z0-9_.-]``, alphanumeric at both ends)."""
    return _LABEL_VALUE.sub("-", value)[:63].strip("-_.")


@dataclass(frozen=True)
class Incident:
    name: str
    spec: dict[str, Any]
    status: dict[str, Any]

    @property
    def phase(self) -> str:
        return str(self.status.get("phase", ""))

    @property
    def report_sent(self) -> bool:
        return bool(self.status.get("reportSentAt"))

    @property
    def resolved(self) -> bool:
        return bool(self.status.get("resolvedAt"))

    @property
    def resolution_sent(self) -> bool:
        return bool(self.status.get("resolutionSentAt"))

    @classmethod
    def from_object(cls, body: dict[str, Any]) -> Incident:
        return cls(body["metadata"]["name"], dict(body.get("spec") or {}), dict(body.get("status") or {}))


def incident_spec(alert: Alert, origin: dict[str, str]) -> dict[str, Any]:
    """What the incident is about, as the alert said it (secrets-looking values redacted)."""
    return {
        "alertname": alert.name,
        "severity": alert.severity,
        "namespace": alert.namespace,
        "pod": alert.pod,
        "fingerprint": alert.fingerprint,
        "startsAt": format_time(alert.starts_at),
        "summary": redact(alert.annotations.get("summary", "")),
        "labels": redact_mapping(alert.labels),
        "generatorURL": alert.generator_url,
        "externalURL": origin.get("externalURL", ""),
    }


class IncidentStore:
    """Incidents in one namespace, through the kubernetes client's CustomObjectsApi."""

    def __init__(self, custom_objects: Any, namespace: str, timeout: float) -> None:
        self._api = custom_objects
        self.namespace = namespace
        self._timeout = timeout

    def _call(self, what: str, method_name: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self._api, method_name)
        return call(
            what, method, GROUP, VERSION, self.namespace, PLURAL, *args, _request_timeout=self._timeout, **kwargs
        )

    def open(self, alert: Alert, origin: dict[str, str]) -> tuple[Incident, bool]:
        """The alert's incident and whether this call created it (False: it already existed, 409)."""
        name = incident_name(alert)
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "metadata": {
                "name": name,
                "labels": {
                    "app.kubernetes.io/managed-by": "incident-report",
                    "whooper.dev/severity": label_value(alert.severity),
                    "whooper.dev/alertname": label_value(alert.name),
                },
            },
            "spec": incident_spec(alert, origin),
        }
        try:
            created = self._call(f"create incident {name}", "create_namespaced_custom_object", body)
        except KubeRequestError as error:
            if error.status != 409:
                raise
            existing = self.get(name)
            if existing is None:  # deleted between our create and get; the redelivery will create it again
                raise
            return existing, False
        incident = Incident.from_object(created)
        # A create ignores status (it is a subresource), so the phase is set in a second call.
        return self.update_status(incident, {"phase": PHASE_OPEN}), True

    def get(self, name: str) -> Incident | None:
        try:
            return Incident.from_object(self._call(f"read incident {name}", "get_namespaced_custom_object", name))
        except KubeRequestError as error:
            if error.status == 404:
                return None
            raise

    def update_status(self, incident: Incident, fields: dict[str, Any]) -> Incident:
        """Merge ``fields`` into the incident's status (a JSON merge patch on the status subresource)."""
        patched = self._call(
            f"update incident {incident.name}",
            "patch_namespaced_custom_object_status",
            incident.name,
            {"status": fields},
        )
        return Incident.from_object(patched)
