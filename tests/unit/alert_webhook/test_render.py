"""The alert email: subject, both parts, escaping of untrusted labels, truncation and resolved alerts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alert_webhook.render import RESOLVED_COLOUR, SEVERITY_COLOURS, Renderer, human_duration, subject
from tests.alertmanager_payloads import payload
from whooper_common.alertmanager import Notification
from whooper_common.mailer import Email, build_message

NOW = datetime(2026, 12, 3, 13, 40, tzinfo=UTC)


def _render(name: str) -> Email:
    return Renderer().render(Notification.from_dict(payload(name)), NOW)


def test_firing_email_shows_every_alert_with_its_details_and_links() -> None:
    email = _render("firing_truncated")
    assert email.subject == "[FIRING:2] PodDown (critical)"
    assert email.kind == "alert"
    for part in (email.html, email.text):
        assert "shop/cart-0" in part
        assert "shop/cart-1" in part
        assert "Pod shop/cart-0 is down" in part
        assert "The pod has not been Running for 5 minutes." in part
        assert "kubectl -n shop describe pod cart-1" in part
        assert "https://runbooks.whooper.dev/runbook.md#poddown" in part
        assert "8m 23s" in part  # firing since 13:31:36.76
        assert "http://alertmanager.monitoring:9093" in part
    assert 'href="http://prometheus:9090/graph?g0.expr=whooper_pod_phase%7Bphase%3D%22Pending%22%7D' in email.html
    assert SEVERITY_COLOURS["critical"] in email.html
    assert "FIRING" in email.html


def test_html_is_mail_client_safe_inline_css_and_tables() -> None:
    html = _render("firing_mixed").html
    assert "<table" in html
    assert "<style" not in html
    assert "<link" not in html
    assert 'style="' in html


def test_truncated_alerts_are_announced() -> None:
    email = _render("firing_truncated")
    assert "1 more alert(s) were truncated by Alertmanager" in email.text
    assert "1 more alert(s) were truncated by Alertmanager" in email.html
    assert "truncated" not in _render("firing_mixed").text


def test_resolved_email_says_so_at_a_glance() -> None:
    email = _render("resolved")
    assert email.subject == "[RESOLVED:2] PodDown (critical)"
    assert RESOLVED_COLOUR in email.html
    assert "RESOLVED" in email.html
    assert "Fired for:     6m 55s" in email.text  # 13:31:36.76 to 13:38:31.76
    assert "resolved 2026-12-03T13:38:31.758991Z" in email.text


def test_mixed_group_is_named_by_its_first_alert_and_most_severe_severity() -> None:
    email = _render("firing_mixed")
    assert email.subject == "[FIRING:2] PodCrashLooping and 2 more (critical)"
    assert "== FIRING (2) ==" in email.text
    assert "== RESOLVED (1) ==" in email.text
    assert "Raise the memory limit or find the leak." in email.text
    assert "container=worker" in email.text
    assert SEVERITY_COLOURS["warning"] in email.html


def test_labels_and_annotations_are_escaped_in_html() -> None:
    html = _render("hostile_labels").html
    assert "<script>" not in html
    assert "<img" not in html
    assert '<a href="http://evil.example">' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; friends" in html


def test_only_http_links_are_made() -> None:
    email = _render("hostile_labels")
    assert "javascript:" not in email.html
    assert "javascript:" not in email.text


def test_crlf_in_labels_cannot_add_a_mail_header() -> None:
    email = _render("hostile_labels")
    assert email.subject == "[FIRING:1] Evil Bcc: attacker@example.com (critical)"
    message = build_message(email, "alerts@whooper.local", ["oncall@example.com"])
    headers = message.as_bytes().split(b"\n\n", 1)[0].decode()
    assert message["Bcc"] is None
    assert "\nBcc:" not in headers
    assert "\nSubject: injected" not in headers
    assert "\r" not in email.text  # bare CRs in the body are refused by some servers


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (59.9, "59s"), (61, "1m 1s"), (3600, "1h"), (3720, "1h 2m"), (90061, "1d 1h"), (172800, "2d")],
)
def test_durations_read_like_a_person_would_say_them(seconds: float, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_subject_counts_alerts_with_the_notification_status() -> None:
    data = payload("firing_mixed")
    data["commonLabels"] = {"alertname": "PodDown", "severity": "warning"}
    assert subject(Notification.from_dict(data)) == "[FIRING:2] PodDown (warning)"
