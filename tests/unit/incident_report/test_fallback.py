"""The template summary: built from the alert and the context alone, and clearly marked as a template."""

from __future__ import annotations

from incident_report.context import Context, PodEvent
from incident_report.fallback import template_summary
from incident_report.summarize import AiMetrics, GeminiSettings, Summarizer
from tests.incident_report_data import NO_POD_FIRING, POD_FIRING, alert
from whooper_common.metrics import new_registry

CONTEXT = Context(
    namespace="shop",
    pod="checkout-7d9f8b6c5-x2x9z",
    container="checkout",
    events=(
        PodEvent("2026-12-03T10:00:05Z", "Normal", "Pulled", "Container image already present", 4),
        PodEvent("2026-12-03T10:01:00Z", "Warning", "BackOff", "Back-off restarting failed container", 7),
    ),
    log_lines=("starting checkout", "ERROR payment gateway timeout after 30s", "exiting"),
    log_from_previous=True,
)


def test_the_template_says_it_is_one_and_why() -> None:
    summary = template_summary(alert(POD_FIRING), CONTEXT, "GEMINI_API_KEY is not set")
    assert summary.source == "template"
    assert summary.fallback_reason == "GEMINI_API_KEY is not set"
    assert summary.summary.startswith("Template summary (no AI summary: GEMINI_API_KEY is not set).")
    assert "PodCrashLooping (critical) has been firing for pod shop/checkout-7d9f8b6c5-x2x9z" in summary.summary
    assert summary.subject == ""


def test_the_template_quotes_warning_events_and_error_lines() -> None:
    summary = template_summary(alert(POD_FIRING), CONTEXT, "timeout")
    quotes = [e.quote for e in summary.evidence]
    assert "2026-12-03T10:01:00Z Warning BackOff: Back-off restarting failed container (x7)" in quotes
    assert "ERROR payment gateway timeout after 30s" in quotes
    assert not any("Pulled" in q or "starting checkout" in q for q in quotes)
    assert "crashing" in summary.likely_cause


def test_the_template_lists_the_commands_to_run_first() -> None:
    steps = template_summary(alert(POD_FIRING), CONTEXT, "timeout").next_steps
    assert "kubectl describe pod -n shop checkout-7d9f8b6c5-x2x9z" in steps
    assert "kubectl logs -n shop checkout-7d9f8b6c5-x2x9z -c checkout --previous" in steps
    assert "Read the previous container's log and the pod's events." in steps


def test_an_alert_without_a_pod_still_gets_a_summary() -> None:
    summary = template_summary(alert(NO_POD_FIRING), Context(), "timeout")
    assert "WhooperHighErrorRate (warning) has been firing since 2026-12-03T11:15:00Z" in summary.summary
    assert summary.evidence == ()
    assert summary.next_steps == ("Follow the alert's runbook (linked below).",)


def test_without_a_key_the_summarizer_uses_the_template_and_counts_it() -> None:
    registry = new_registry()
    summarizer = Summarizer(GeminiSettings(api_key=""), AiMetrics(registry))
    summary = summarizer.summarize(alert(POD_FIRING), CONTEXT)
    assert summary.source == "template"
    assert summary.fallback_reason == "GEMINI_API_KEY is not set"
    assert registry.get_sample_value("whooper_ai_summary_requests_total", {"status": "disabled"}) == 1
    labels = {"status": "fallback", "type": "incident_report"}
    assert registry.get_sample_value("whooper_ai_subject_suggestion_requests_total", labels) == 1
