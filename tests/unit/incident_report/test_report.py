"""The incident report and resolution emails: HTML autoescaped, text alongside, template summaries marked."""

from __future__ import annotations

from incident_report.answer import Evidence, Summary
from incident_report.context import Context, PodEvent
from incident_report.fallback import template_summary
from incident_report.report import ReportInput, ReportRenderer, format_duration, links
from tests.incident_report_data import POD_FIRING, POD_RESOLVED, alert

CONTEXT = Context(
    namespace="shop",
    pod="checkout-7d9f8b6c5-x2x9z",
    container="checkout",
    events=(PodEvent("2026-12-03T10:01:00Z", "Warning", "BackOff", "Back-off <b>restarting</b>", 7),),
    log_lines=("starting checkout", "<script>alert('log')</script>"),
    log_from_previous=True,
)
AI = Summary(
    summary="Checkout crashes on start.",
    likely_cause="Gateway <timeout>.",
    evidence=(Evidence("gateway fails", "ERROR payment gateway timeout"),),
    next_steps=("Check the gateway.",),
    subject="checkout crash-looping",
    source="gemini",
)


def _report(summary: Summary, **alert_changes: object) -> tuple[str, str, str]:
    email = ReportRenderer().report(
        ReportInput(
            alert(POD_FIRING, **alert_changes), "podcrashlooping-1", "whooper", CONTEXT, summary, "http://am:9093"
        )
    )
    assert email.kind == "incident_report"
    return email.subject, email.text, email.html


def test_the_report_has_the_alert_summary_evidence_steps_events_log_and_links() -> None:
    subject, text, html = _report(AI)
    assert subject == "[CRITICAL] Incident PodCrashLooping: checkout crash-looping"
    for part in (text, html):
        assert "Checkout crashes on start." in part
        assert "ERROR payment gateway timeout" in part
        assert "Check the gateway." in part
        assert "BackOff" in part
        assert "starting checkout" in part
        assert "https://github.com/whooper/monitoring/blob/main/monitoring/runbook.md#podcrashlooping" in part
        assert "http://am:9093" in part
        assert "kubectl get incident podcrashlooping-1 -n whooper -o yaml" in part
    assert "Written by Gemini" in text


def test_html_escapes_everything_that_came_from_the_cluster_or_the_model() -> None:
    _, text, html = _report(AI, annotations={"summary": "<img src=x onerror=alert(1)>"})
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;log&#39;)&lt;/script&gt;" in html
    assert "Back-off &lt;b&gt;restarting&lt;/b&gt;" in html
    assert "Gateway &lt;timeout&gt;." in html
    assert "<img src=x" not in html
    assert "<script>alert('log')</script>" in text  # the text part is plain text: shown as logged


def test_a_template_summary_is_marked_as_such() -> None:
    subject, text, html = _report(template_summary(alert(POD_FIRING), CONTEXT, "Gemini answered 429 (rate limited)"))
    assert subject == "[CRITICAL] Incident PodCrashLooping: pod shop/checkout-7d9f8b6c5-x2x9z"
    assert "Template summary: the AI summary was not available (Gemini answered 429 (rate limited))" in html
    assert "(Template summary: the AI summary was not available — Gemini answered 429 (rate limited).)" in text


def test_only_http_links_are_offered() -> None:
    risky = alert(POD_FIRING, annotations={"runbook_url": "javascript:alert(1)"}, generatorURL="data:text/html,x")
    assert links(risky, "http://am:9093") == [("Alertmanager", "http://am:9093")]


def test_the_resolution_email_gives_the_time_to_resolve() -> None:
    renderer = ReportRenderer()
    email = renderer.resolution(alert(POD_RESOLVED), "podcrashlooping-1", "whooper", 2550.0, "Checkout crashed.")
    assert email.kind == "incident_resolved"
    assert email.subject == "[RESOLVED] Incident PodCrashLooping: pod shop/checkout-7d9f8b6c5-x2x9z"
    for part in (email.text, email.html):
        assert "Time to resolve:" in part
        assert "42m 30s" in part
        assert "2026-12-03T10:42:30.123456Z" in part
        assert "Checkout crashed." in part


def test_durations_read_like_people_write_them() -> None:
    assert format_duration(0) == "0s"
    assert format_duration(59.6) == "1m 0s"
    assert format_duration(3 * 86400 + 4 * 3600 + 5) == "3d 4h 0m 5s"
