"""A real Alertmanager 0.25 posts to alert_webhook served by functions-framework; mail and events arrive.

Alertmanager's webhook notifier retries a 5xx with backoff within one flush
(its deadline is the group_interval, at least 10 s) and again at the next
group_interval, and never retries a 4xx. These tests lean on that to show
that nothing is lost and nothing is mailed twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from devstack.functions import ServedFunction
from devstack.receiver import Receiver
from devstack.smtp import MailCatcher
from devstack.stack import Service, wait_until
from tests.alertmanager_payloads import metric_value
from tests.conftest import Stack
from whooper_common.events import ALERT_FIRING, ALERT_RESOLVED

TOKEN = "alertmanager-shared-s3cret"
RECIPIENTS = ("oncall@example.com", "lead@example.com")


def _function_env(mail: MailCatcher, sink: Receiver | None) -> dict[str, str]:
    env = {
        "WEBHOOK_BEARER_TOKEN": TOKEN,
        "SMTP_HOST": mail.host,
        "SMTP_PORT": str(mail.port),
        "EMAIL_TIMEOUT_SECONDS": "3",
        "ALERT_EMAIL": ",".join(RECIPIENTS),
        "EMAIL_FROM": "Whooper Alerts <alerts@whooper.local>",
        "SINK_TIMEOUT_SECONDS": "3",
    }
    if sink is not None:
        env["K_SINK"] = f"{sink.url}/"
        env["K_CE_OVERRIDES"] = '{"extensions": {"cluster": "integration"}}'
    return env


def _alertmanager(stack: Stack, function: ServedFunction, token: str = TOKEN) -> Service:
    return stack.alertmanager(
        {
            "route": {
                "receiver": "whooper",
                "group_by": ["alertname"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",  # no reminder during the test: one notification per state change
            },
            "receivers": [
                {
                    "name": "whooper",
                    "webhook_configs": [
                        {
                            "url": f"{function.url}/",
                            "send_resolved": True,
                            "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
                        }
                    ],
                }
            ],
        }
    )


def _alerts(ends_at: datetime | None = None) -> list[dict[str, Any]]:
    # A firing alert starts now, not in the past: Alertmanager flushes a group at once when an alert's startsAt
    # is older than group_wait, which could split the two alerts of one POST into two notifications.
    starts = ends_at - timedelta(minutes=3) if ends_at else datetime.now(UTC)
    alerts = []
    for pod in ("cart-0", "cart-1"):
        alert: dict[str, Any] = {
            "labels": {"alertname": "PodDown", "severity": "critical", "namespace": "shop", "pod": pod},
            "annotations": {
                "summary": f"Pod shop/{pod} is down",
                "description": "The pod has not been Running for 5 minutes.",
                "action": f"kubectl -n shop describe pod {pod}",
                "runbook_url": "https://runbooks.whooper.dev/runbook.md#poddown",
            },
            "startsAt": starts.isoformat(),
            "generatorURL": "http://prometheus.monitoring:9090/graph?g0.expr=up",
        }
        if ends_at is not None:
            alert["endsAt"] = ends_at.isoformat()
        alerts.append(alert)
    return alerts


def _raise_alerts(alertmanager: Service, alerts: list[dict[str, Any]]) -> None:
    response = requests.post(f"{alertmanager.url}/api/v2/alerts", json=alerts, timeout=5)
    assert response.status_code == 200, response.text


def _metric(function: ServedFunction, name: str, labels: dict[str, str]) -> float:
    return metric_value(requests.get(f"{function.url}/metrics", timeout=5).text, name, labels)


def _answered(function: ServedFunction, status: int) -> float:
    return _metric(function, "whooper_http_requests_total", {"method": "POST", "route": "/", "status": str(status)})


def test_alertmanager_notifications_are_mailed_and_sent_as_events(
    stack: Stack,
    mail: MailCatcher,
    receiver: Callable[[], Receiver],
    serve_function: Callable[..., ServedFunction],
) -> None:
    sink = receiver()
    function = serve_function("alert_webhook", _function_env(mail, sink))
    alertmanager = _alertmanager(stack, function)

    _raise_alerts(alertmanager, _alerts())
    (firing,) = mail.wait_for(1, timeout=60)
    assert firing.subject == "[FIRING:2] PodDown (critical)"
    assert firing.rcpt_tos == RECIPIENTS
    assert firing.message["To"] == ", ".join(RECIPIENTS)
    for part in (firing.part("text/plain"), firing.part("text/html")):
        assert "shop/cart-0" in part
        assert "shop/cart-1" in part
        assert "kubectl -n shop describe pod cart-1" in part
    html = firing.part("text/html")
    assert 'href="http://prometheus.monitoring:9090/graph?g0.expr=up"' in html
    assert 'href="https://runbooks.whooper.dev/runbook.md#poddown"' in html
    assert ">Alertmanager</a>" in html  # externalURL, as Alertmanager sent it
    events = sink.wait_for(2, timeout=30)
    assert [e.headers["ce-type"] for e in events] == [ALERT_FIRING, ALERT_FIRING]
    assert {e.json()["labels"]["pod"] for e in events} == {"cart-0", "cart-1"}
    assert {e.headers["ce-cluster"] for e in events} == {"integration"}
    assert all(e.headers["content-type"] == "application/json" for e in events)  # binary mode: data is the body

    _raise_alerts(alertmanager, _alerts(ends_at=datetime.now(UTC) - timedelta(seconds=1)))
    _, resolved = mail.wait_for(2, timeout=60)
    assert resolved.subject == "[RESOLVED:2] PodDown (critical)"
    resolved_events = sink.wait_for(4, timeout=30)[2:]
    assert [e.headers["ce-type"] for e in resolved_events] == [ALERT_RESOLVED, ALERT_RESOLVED]
    assert "Alert email sent: PodDown (resolved)" in function.logs()
    assert "Received 2 alert(s) from Prometheus AlertManager" in function.logs()
    assert TOKEN not in function.logs()
    assert _metric(function, "whooper_alerts_triggered_total", {"severity": "critical", "type": "PodDown"}) == 2
    assert _metric(function, "whooper_alerts_resolved_total", {"type": "PodDown"}) == 2


def test_smtp_down_for_a_while_then_up_mails_once_after_alertmanager_retries(
    stack: Stack, mail: MailCatcher, serve_function: Callable[..., ServedFunction]
) -> None:
    function = serve_function("alert_webhook", _function_env(mail, sink=None))
    alertmanager = _alertmanager(stack, function)
    mail.stop()
    _raise_alerts(alertmanager, _alerts())
    wait_until(lambda: _answered(function, 503) >= 3, timeout=60, what="Alertmanager retrying after 503s")
    assert mail.messages == []

    mail.start()  # same port
    wait_until(lambda: _answered(function, 200) >= 1, timeout=60, what="a retry answered 200")
    (received,) = mail.wait_for(1, timeout=5)
    assert received.subject == "[FIRING:2] PodDown (critical)"
    assert len(mail.messages) == 1
    assert _metric(function, "whooper_emails_sent_total", {"type": "alert", "status": "success"}) == 1
    assert _metric(function, "whooper_emails_sent_total", {"type": "alert", "status": "failure"}) >= 3


def test_sink_failing_once_does_not_mail_twice(
    stack: Stack,
    mail: MailCatcher,
    receiver: Callable[[], Receiver],
    serve_function: Callable[..., ServedFunction],
) -> None:
    sink = receiver()
    sink.answer_with(503, times=1)
    function = serve_function("alert_webhook", _function_env(mail, sink))
    alertmanager = _alertmanager(stack, function)
    _raise_alerts(alertmanager, _alerts())

    wait_until(lambda: _answered(function, 200) >= 1, timeout=60, what="the retry answered 200")
    assert _answered(function, 503) >= 1
    assert len(mail.messages) == 1
    refused, *accepted = sink.requests
    assert len(accepted) == 2
    assert {e.headers["ce-id"] for e in accepted} >= {refused.headers["ce-id"]}  # the refused event was sent again
    assert "not sending it again" in function.logs()


def test_wrong_token_is_refused(stack: Stack, mail: MailCatcher, serve_function: Callable[..., ServedFunction]) -> None:
    function = serve_function("alert_webhook", _function_env(mail, sink=None))
    alertmanager = _alertmanager(stack, function, token="not-the-token")
    _raise_alerts(alertmanager, _alerts())
    wait_until(lambda: _answered(function, 401) >= 1, timeout=60, what="Alertmanager's request refused")
    assert mail.messages == []
    assert "not-the-token" not in function.logs()


def test_served_function_reads_a_thousand_alert_body_in_full(
    mail: MailCatcher, serve_function: Callable[..., ServedFunction]
) -> None:
    """Through gunicorn the body arrives in pieces; a 1,000-alert notification must still be read whole."""
    function = serve_function("alert_webhook", _function_env(mail, sink=None))
    alerts = []
    for i in range(1000):
        alert = {**_alerts()[0], "status": "firing", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": f"{i:016x}"}
        alert["labels"] = {**alert["labels"], "pod": f"worker-{i:04d}"}
        alert["annotations"] = {**alert["annotations"], "description": "d" * 1500}
        alerts.append(alert)
    notification = {
        "receiver": "whooper",
        "status": "firing",
        "alerts": alerts,
        "groupLabels": {"alertname": "PodDown"},
        "commonLabels": {"alertname": "PodDown", "severity": "critical"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.monitoring:9093",
        "version": "4",
        "groupKey": '{}:{alertname="PodDown"}',
        "truncatedAlerts": 0,
    }
    response = requests.post(
        f"{function.url}/", json=notification, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )
    assert len(response.request.body or b"") > 2_000_000
    assert response.status_code == 200, response.text
    assert response.json()["alerts"] == 1000
    (received,) = mail.wait_for(1)
    assert received.subject == "[FIRING:1000] PodDown (critical)"
