"""Test data for incident_report: alert CloudEvents as alert_webhook sends them (tests/data/incident_report/)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent, from_dict

from whooper_common.alertmanager import Alert, format_time
from whooper_common.events import alert_event_id

DATA = Path(__file__).parent / "data" / "incident_report"
POD_FIRING = "pod_crashlooping_firing"
POD_RESOLVED = "pod_crashlooping_resolved"
NO_POD_FIRING = "high_error_rate_firing"


def event_dict(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return loaded


def event(name: str, **data_changes: Any) -> CloudEvent:
    """The event of that file, with top-level fields of its data replaced."""
    body = event_dict(name)
    body["data"] = {**body["data"], **data_changes}
    return from_dict(body)


def alert(name: str, **data_changes: Any) -> Alert:
    return Alert.from_dict(event(name, **data_changes).get_data())


def binary(cloud_event: CloudEvent) -> tuple[dict[str, str], bytes]:
    headers, body = to_binary(cloud_event)
    return dict(headers), bytes(body)


def structured(cloud_event: CloudEvent) -> tuple[dict[str, str], bytes]:
    headers, body = to_structured(cloud_event)
    return dict(headers), bytes(body)


def resolved_after(name: str, seconds: float) -> CloudEvent:
    """The resolved event of a firing file, ``seconds`` after it started."""
    firing = alert(name)
    body = event_dict(name)
    body["type"] = "dev.whooper.alert.resolved"
    body["data"] = {
        **body["data"],
        "status": "resolved",
        "endsAt": format_time(firing.starts_at + timedelta(seconds=seconds)),
    }
    body["id"] = alert_event_id(Alert.from_dict(body["data"]))
    return from_dict(body)
