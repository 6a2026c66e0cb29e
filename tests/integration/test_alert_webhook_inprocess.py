"""alert_webhook in this process (functions-framework's test client) against a real SMTP server and a real sink."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.receiver import Receiver
from devstack.smtp import MailCatcher
from tests.alertmanager_payloads import function_client, metric_value, payload
from whooper_common.events import ALERT_FIRING, ALERT_RESOLVED

TOKEN = "t0ken-for-tests"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


def _env(mail: MailCatcher, sink: Receiver | None = None, **extra: str) -> dict[str, str]:
    env = {
        "WEBHOOK_BEARER_TOKEN": TOKEN,
        "SMTP_HOST": mail.host,
        "SMTP_PORT": str(mail.port),
        "EMAIL_TIMEOUT_SECONDS": "3",
        "ALERT_EMAIL": "oncall@example.com, lead@example.com",
        "EMAIL_FROM": "Whooper Alerts <alerts@whooper.local>",
        **extra,
    }
    if sink is not None:
        env["K_SINK"] = sink.url
    return env


def _post(client: FlaskClient, data: Any) -> tuple[int, dict[str, Any]]:
    response = client.post("/", data=json.dumps(data), headers=HEADERS)
    body: dict[str, Any] = response.get_json()
    return response.status_code, body


def _metric(client: FlaskClient, name: str, labels: dict[str, str]) -> float:
    return metric_value(client.get("/metrics").get_data(as_text=True), name, labels)


def test_notification_is_mailed_and_every_alert_becomes_an_event(
    mail: MailCatcher, receiver: Callable[[], Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    sink = receiver()
    client = function_client("alert_webhook", _env(mail, sink, K_CE_OVERRIDES='{"extensions": {"cluster": "prod"}}'))
    status, body = _post(client, payload("firing_mixed"))
    assert status == 200, body
    assert body == {"email": "sent", "events": 3, "alerts": 3}

    (received,) = mail.messages
    assert received.subject == "[FIRING:2] PodCrashLooping and 2 more (critical)"
    assert received.rcpt_tos == ("oncall@example.com", "lead@example.com")
    assert "Raise the memory limit" in received.part("text/plain")
    assert "Raise the memory limit" in received.part("text/html")

    events = sink.requests
    assert [e.headers["ce-type"] for e in events] == [ALERT_FIRING, ALERT_FIRING, ALERT_RESOLVED]
    assert {e.headers["ce-cluster"] for e in events} == {"prod"}
    assert {e.headers["ce-source"] for e in events} == {"/whooper/functions/alert_webhook"}
    assert [e.json()["fingerprint"] for e in events] == [a["fingerprint"] for a in payload("firing_mixed")["alerts"]]
    assert len({e.headers["ce-id"] for e in events}) == 3

    assert "Received 3 alert(s) from Prometheus AlertManager" in caplog.text
    assert "Alert email sent: PodCrashLooping and 2 more (firing)" in caplog.text
    assert _metric(client, "whooper_alerts_triggered_total", {"severity": "critical", "type": "PodOOMKilled"}) == 1
    assert _metric(client, "whooper_alerts_resolved_total", {"type": "PodPending"}) == 1
    assert _metric(client, "whooper_cloudevents_sent_total", {"type": ALERT_FIRING, "outcome": "accepted"}) == 2
    assert _metric(client, "whooper_emails_sent_total", {"type": "alert", "status": "success"}) == 1


def test_sink_failing_once_gives_503_and_the_retry_does_not_mail_again(
    mail: MailCatcher, receiver: Callable[[], Receiver]
) -> None:
    sink = receiver()
    client = function_client("alert_webhook", _env(mail, sink))
    sink.answer_with(503, times=1)
    status, body = _post(client, payload("firing_truncated"))
    assert status == 503
    assert "event sink unavailable" in body["error"]
    assert len(mail.messages) == 1  # the email went out before the sink failed

    status, body = _post(client, payload("firing_truncated"))  # Alertmanager's retry
    assert status == 200
    assert body["email"] == "already sent"
    assert len(mail.messages) == 1
    accepted_ids = [r.headers["ce-id"] for r in sink.requests[1:]]
    assert len(set(accepted_ids)) == 2  # both alerts' events, each accepted once
    assert _metric(client, "whooper_cloudevents_sent_total", {"type": ALERT_FIRING, "outcome": "rejected"}) == 1


def test_sink_unreachable_is_503(mail: MailCatcher, receiver: Callable[[], Receiver]) -> None:
    sink = receiver()
    sink.stop()
    client = function_client("alert_webhook", _env(mail, sink, SINK_TIMEOUT_SECONDS="2"))
    status, _ = _post(client, payload("resolved"))
    assert status == 503
    assert _metric(client, "whooper_cloudevents_sent_total", {"type": ALERT_RESOLVED, "outcome": "unreachable"}) == 1


def test_smtp_down_then_up_mails_once(mail: MailCatcher, caplog: pytest.LogCaptureFixture) -> None:
    client = function_client("alert_webhook", _env(mail))
    mail.stop()
    assert _post(client, payload("resolved"))[0] == 503
    assert _post(client, payload("resolved"))[0] == 503
    mail.start()
    status, body = _post(client, payload("resolved"))
    assert (status, body["email"], body["events"]) == (200, "sent", 0)  # no K_SINK: no events
    assert _post(client, payload("resolved"))[1]["email"] == "already sent"
    (received,) = mail.messages
    assert received.subject == "[RESOLVED:2] PodDown (critical)"
    assert "K_SINK is not set" in caplog.text


def test_a_thousand_alerts_fit_under_the_default_size_limit(mail: MailCatcher) -> None:
    data = payload("firing_mixed")
    template = data["alerts"][1]
    data["alerts"] = [
        {
            **template,
            "labels": {**template["labels"], "pod": f"worker-{i:04d}"},
            "annotations": {**template["annotations"], "description": "x" * 1000},
            "fingerprint": f"{i:016x}",
        }
        for i in range(1000)
    ]
    body = json.dumps(data)
    assert len(body) > 1_000_000
    client = function_client("alert_webhook", _env(mail))
    status, answer = _post(client, data)
    assert status == 200, answer
    assert answer["alerts"] == 1000
    assert "worker-0999" in mail.messages[0].part("text/plain")


# ---- property: no input yields a 5xx or an unhandled exception -------------------------------------------

# Any code point, lone surrogates and control characters included: JSON can carry them all.
# Surrogates, control characters and markup are drawn often on purpose: they are what breaks encoders.
_any_text = st.text(
    st.characters(exclude_categories=()) | st.characters(categories=["Cs", "Cc"]) | st.sampled_from('<>&"\r\n'),
    max_size=20,
)
_json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _any_text
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_any_text, inner, max_size=4),
    max_leaves=20,
)
_FIELDS = [
    "receiver",
    "status",
    "alerts",
    "groupLabels",
    "commonLabels",
    "commonAnnotations",
    "externalURL",
    "version",
    "groupKey",
    "truncatedAlerts",
]
_ALERT_FIELDS = ["status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"]


@st.composite
def _mutated_payload(draw: st.DrawFn) -> Any:
    data = payload(draw(st.sampled_from(["firing_mixed", "firing_truncated", "resolved", "hostile_labels"])))
    for _ in range(draw(st.integers(1, 3))):
        target = data
        keys = _FIELDS
        if draw(st.booleans()) and isinstance(data.get("alerts"), list) and data["alerts"]:
            target = draw(st.sampled_from(data["alerts"]))
            keys = _ALERT_FIELDS
            if not isinstance(target, dict):
                continue
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()):
            target.pop(key, None)
        else:
            target[key] = draw(_json | st.sampled_from(["4", "firing", "resolved", "9999-12-31T23:59:59-05:00"]))
    return data


@st.composite
def _untrusted_text_payload(draw: st.DrawFn) -> Any:
    """A valid notification whose label, annotation and URL text is anything at all."""
    data = payload(draw(st.sampled_from(["firing_mixed", "resolved"])))
    for _ in range(draw(st.integers(1, 4))):
        alert = draw(st.sampled_from(data["alerts"]))
        where = draw(st.sampled_from(["labels", "annotations", "commonLabels", "groupLabels", "url"]))
        if where == "url":
            alert["generatorURL"] = draw(_any_text)
            continue
        mapping = data[where] if where in ("commonLabels", "groupLabels") else alert[where]
        name = draw(st.sampled_from(["alertname", "severity", "namespace", "pod", "summary", "action", "runbook_url"]))
        mapping[name] = draw(_any_text)
    return data


@pytest.fixture(scope="module")
def module_mail() -> Iterator[MailCatcher]:
    with MailCatcher() as catcher:
        yield catcher


def test_arbitrary_and_mutated_payloads_never_yield_a_5xx(module_mail: MailCatcher) -> None:
    env = _env(module_mail)
    statuses: list[int] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=st.one_of(_json, _mutated_payload(), _untrusted_text_payload(), st.binary(max_size=200)))
    def answers_without_a_5xx(body: Any) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body)
        # a fresh app each time: its record of sent notifications would otherwise skip mailing a repeated one
        client = function_client("alert_webhook", env)
        response = client.post("/", data=raw, headers=HEADERS)
        assert response.status_code in (200, 400), response.get_data(as_text=True)
        assert response.get_json() is not None
        statuses.append(response.status_code)

    answers_without_a_5xx()
    assert {200, 400} <= set(statuses)  # both valid and invalid notifications were tried
