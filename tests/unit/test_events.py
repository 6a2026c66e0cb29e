"""Shared CloudEvent helpers: ids, alert events, K_CE_OVERRIDES, binary requests and parsing."""

from __future__ import annotations

import dataclasses
import json

import flask
import pytest
from cloudevents.conversion import to_structured
from cloudevents.http import CloudEvent

from tests.alertmanager_payloads import payload
from whooper_common.alertmanager import Notification
from whooper_common.config import ConfigError
from whooper_common.events import (
    ALERT_FIRING,
    ALERT_RESOLVED,
    EventError,
    alert_event,
    alert_event_attributes,
    alert_event_data,
    alert_event_id,
    binary_headers,
    binary_request,
    from_request,
    parse_overrides,
    source,
    to_binary_request,
)


def _notification(name: str = "firing_mixed") -> Notification:
    return Notification.from_dict(payload(name))


def test_event_id_is_stable_and_changes_with_status_and_start() -> None:
    alert = _notification().alerts[0]
    assert alert_event_id(alert) == alert_event_id(Notification.from_dict(payload("firing_mixed")).alerts[0])
    resolved = dataclasses.replace(alert, status="resolved")
    restarted = dataclasses.replace(alert, starts_at=alert.ends_at or alert.starts_at.replace(year=2027))
    assert len({alert_event_id(alert), alert_event_id(resolved), alert_event_id(restarted)}) == 3


def test_alert_event_carries_the_alert_and_where_it_came_from() -> None:
    notification = _notification()
    firing, _, resolved = notification.alerts
    event = alert_event(firing, notification, "alert_webhook")
    assert event["type"] == ALERT_FIRING
    assert event["source"] == source("alert_webhook") == "/whooper/functions/alert_webhook"
    assert event["subject"] == "PodCrashLooping"
    assert event["time"] == "2026-12-03T12:01:06.123456Z"
    assert event.data["labels"] == firing.labels
    assert event.data["receiver"] == "whooper-alert-webhook"
    assert event.data["groupKey"] == notification.group_key
    assert event.data["externalURL"] == "http://alertmanager.monitoring:9093"
    ended = alert_event(resolved, notification, "alert_webhook")
    assert ended["type"] == ALERT_RESOLVED
    assert ended["time"] == "2026-12-03T13:15:00Z"


def test_overrides_as_a_sink_binding_writes_them() -> None:
    assert parse_overrides({}) == {}
    assert parse_overrides({"K_CE_OVERRIDES": '{"extensions": {"cluster": "prod"}}'}) == {"cluster": "prod"}


@pytest.mark.parametrize("raw", ["not json", "[1]", '{"extensions": {"a": 1}}', '{"extensions": []}'])
def test_malformed_overrides_name_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="K_CE_OVERRIDES"):
        parse_overrides({"K_CE_OVERRIDES": raw})


def test_binary_request_puts_attributes_in_headers_and_the_alert_in_the_body() -> None:
    notification = _notification()
    event = alert_event(notification.alerts[1], notification, "alert_webhook")
    headers, body = to_binary_request(event, {"cluster": "prod"})
    assert headers["ce-type"] == ALERT_FIRING
    assert headers["ce-id"] == alert_event_id(notification.alerts[1])
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-cluster"] == "prod"
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["fingerprint"] == "9e0f77aa31c2d415"


def _parse(headers: dict[str, str], body: bytes) -> CloudEvent:
    app = flask.Flask("test")
    with app.test_request_context("/", method="POST", headers=headers, data=body):
        return from_request(flask.request)


def test_from_request_reads_binary_and_structured_events() -> None:
    notification = _notification()
    event = alert_event(notification.alerts[0], notification, "alert_webhook")
    binary = _parse(*to_binary_request(event))
    structured = _parse(*to_structured(event))
    for parsed in (binary, structured):
        assert parsed["id"] == event["id"]
        assert parsed["type"] == ALERT_FIRING
        assert parsed.data["fingerprint"] == notification.alerts[0].fingerprint


def test_from_request_refuses_what_is_not_an_event() -> None:
    with pytest.raises(EventError, match="not a valid CloudEvent"):
        _parse({"Content-Type": "application/json"}, b'{"hello": "world"}')


def test_binary_request_built_directly_matches_the_sdk() -> None:
    notification = _notification()
    for alert in notification.alerts:
        attributes = alert_event_attributes(alert, "alert_webhook")
        data = alert_event_data(alert, notification)
        headers, body = binary_request(attributes, data, {"cluster": "prod"})
        expected_headers, expected_body = to_binary_request(
            alert_event(alert, notification, "alert_webhook"), {"cluster": "prod"}
        )
        assert headers == expected_headers
        assert json.loads(body) == json.loads(expected_body)
        parsed = _parse(headers, body)
        assert (parsed["id"], parsed["subject"], parsed.data) == (attributes["id"], alert.name, data)


def test_header_values_that_cannot_be_sent_as_they_are_are_percent_encoded() -> None:
    headers = binary_headers(
        {"type": ALERT_FIRING, "subject": 'Disk "full" 100%', "id": "1"}, {"team": "Bühne\r\nX: 1"}
    )
    assert headers["ce-subject"] == 'Disk "full" 100%'  # printable ASCII: as the SDK sends it
    assert headers["ce-team"] == "B%C3%BChne%0D%0AX:%201"  # per the HTTP binding
