"""The shared Alertmanager models parse real 0.25 payloads and name the field when one is wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.alertmanager_payloads import PAYLOAD_NAMES, payload
from whooper_common.alertmanager import Alert, Notification, PayloadError, format_time, parse_time


@pytest.mark.parametrize("name", PAYLOAD_NAMES)
def test_every_recorded_payload_parses_and_round_trips(name: str) -> None:
    data = payload(name)
    notification = Notification.from_dict(data)
    assert notification.version == "4"
    assert notification.receiver == data["receiver"]
    assert notification.group_key == data["groupKey"]
    assert notification.truncated_alerts == data["truncatedAlerts"]
    assert len(notification.alerts) == len(data["alerts"])
    for parsed, raw in zip(notification.alerts, data["alerts"], strict=True):
        again = parsed.to_dict()
        assert again["labels"] == raw["labels"]
        assert again["annotations"] == raw["annotations"]
        assert again["fingerprint"] == raw["fingerprint"]
        assert Alert.from_dict(again) == parsed


def test_firing_alert_fields() -> None:
    notification = Notification.from_dict(payload("firing_truncated"))
    alert = notification.alerts[0]
    assert notification.status == "firing"
    assert notification.common_labels["alertname"] == "PodDown"
    assert notification.group_labels == {"alertname": "PodDown"}
    assert notification.external_url == "http://alertmanager.monitoring:9093"
    assert notification.truncated_alerts == 1
    assert (alert.name, alert.severity, alert.namespace, alert.pod) == ("PodDown", "critical", "shop", "cart-0")
    assert alert.ends_at is None  # Go's zero time
    assert alert.starts_at == datetime(2026, 12, 3, 13, 31, 36, 758991, tzinfo=UTC)
    assert alert.annotations["runbook_url"].endswith("#poddown")


def test_nanosecond_times_are_read_and_durations_measured() -> None:
    mixed = Notification.from_dict(payload("firing_mixed"))
    crashloop, _oom, pending = mixed.alerts
    assert crashloop.starts_at == datetime(2026, 12, 3, 12, 1, 6, 123456, tzinfo=UTC)
    now = datetime(2026, 12, 3, 13, 1, 6, 123456, tzinfo=UTC)
    assert crashloop.duration_seconds(now) == 3600
    # a resolved alert fired until it ended, whatever ``now`` is
    assert pending.status == "resolved"
    assert pending.duration_seconds(now) == 2 * 3600 + 15 * 60


def test_missing_labels_get_readable_defaults() -> None:
    alert = Alert.from_dict(
        {"status": "firing", "startsAt": "2026-01-01T00:00:00Z", "fingerprint": "f", "labels": None}
    )
    assert (alert.name, alert.severity, alert.namespace, alert.pod) == ("unnamed alert", "none", "", "")
    assert alert.generator_url == ""
    assert alert.ends_at is None


def _broken(change: str) -> dict[str, Any]:
    data = payload("firing_truncated")
    alert = data["alerts"][1]
    match change:
        case "version":
            data["version"] = "3"
        case "status":
            data["status"] = "pending"
        case "alerts":
            data["alerts"] = {}
        case "alerts-empty":
            data["alerts"] = []
        case "truncated":
            data["truncatedAlerts"] = -1
        case "label-type":
            alert["labels"]["pod"] = 3
        case "starts":
            alert["startsAt"] = "yesterday"
        case "starts-zero":
            alert["startsAt"] = "0001-01-01T00:00:00Z"
        case "naive-time":
            alert["endsAt"] = "2026-12-03T13:31:36"
        case "fingerprint":
            del alert["fingerprint"]
        case "alert-status":
            alert["status"] = "FIRING"
        case "surrogate":
            alert["annotations"]["summary"] = "\ud800"
        case "common-labels":
            data["commonLabels"] = ["alertname"]
        case "overflow":
            alert["startsAt"] = "9999-12-31T23:00:00-05:00"
    return data


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ("version", "version"),
        ("status", "status"),
        ("alerts", "alerts"),
        ("alerts-empty", "alerts"),
        ("truncated", "truncatedAlerts"),
        ("label-type", "alerts[1].labels.pod"),
        ("starts", "alerts[1].startsAt"),
        ("starts-zero", "alerts[1].startsAt"),
        ("naive-time", "alerts[1].endsAt"),
        ("fingerprint", "alerts[1].fingerprint"),
        ("alert-status", "alerts[1].status"),
        ("surrogate", "alerts[1].annotations.summary"),
        ("common-labels", "commonLabels"),
        ("overflow", "alerts[1].startsAt"),
    ],
)
def test_invalid_payload_names_the_field(change: str, field: str) -> None:
    with pytest.raises(PayloadError) as caught:
        Notification.from_dict(_broken(change))
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_payload_that_is_not_an_object() -> None:
    with pytest.raises(PayloadError, match="payload: must be a JSON object, got list"):
        Notification.from_dict([])


def test_times_format_as_alertmanager_writes_them() -> None:
    assert format_time(None) == "0001-01-01T00:00:00Z"
    assert format_time(parse_time("2026-12-03T14:31:36.5+01:00", "t")) == "2026-12-03T13:31:36.500000Z"
    assert parse_time("", "t") is None
