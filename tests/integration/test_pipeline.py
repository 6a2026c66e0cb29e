"""The whole pipeline, end to end, with faults injected: nothing lost, nothing doubled.

Timing: the PodDown email must arrive within its floor (tick + scrape +
evaluation + for + group_wait, from the shortened timings) plus SLACK_SECONDS.
The slack covers the functions' processing, Alertmanager's flush and the
machine being shared; it is generous on purpose, since the point is that the
alert path has no hidden waits of minutes, not to benchmark (nox -s bench does).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devstack.kube_api import make_pod
from devstack.pipeline import Pipeline, Timings, rule_for
from devstack.stack import query, wait_until

SLACK_SECONDS = 30.0
FAILING = ("shop", "checkout-7d9f8c6b5-x2k4p")
HEALTHY = [("shop", "cart-5c7b9d8f6-q8w3e"), ("payments", "gateway-9c8b7d6f5-h3j6k")]


def _healthy() -> list[dict[str, object]]:
    return [make_pod(name, namespace) for namespace, name in HEALTHY]


def _fail_pod(pipeline: Pipeline) -> float:
    namespace, name = FAILING
    pipeline.kube.add_pod(make_pod(name, namespace, "Failed", terminated_reason="Error"))
    return time.monotonic()


def _alert_mails(pipeline: Pipeline, alertname: str, status: str = "FIRING") -> list[str]:
    return [
        m.subject
        for m in pipeline.mails_of_type("alert")
        if alertname in m.subject and m.subject.startswith(f"[{status}")
    ]


@pytest.fixture
def pipeline() -> Iterator[Pipeline]:
    # A short repeat interval so Alertmanager repeats the notification while the test watches.
    with Pipeline(Timings(repeat_interval="8s", group_interval="4s")) as started:
        started.kube.set_pods(_healthy())
        wait_until(
            lambda: query(started.prometheus, f"whooper_pods_running == {len(HEALTHY)}"),
            timeout=60,
            what="the exporter's first push scraped",
        )
        yield started


def test_pod_down_mails_opens_one_incident_and_resolves_with_mttr(pipeline: Pipeline) -> None:
    floor = pipeline.timings.floor(rule_for("PodDown"))
    failed_at = _fail_pod(pipeline)

    wait_until(lambda: _alert_mails(pipeline, "PodDown"), timeout=floor + SLACK_SECONDS + 30, what="PodDown email")
    latency = time.monotonic() - failed_at
    assert latency <= floor + SLACK_SECONDS, f"PodDown email after {latency:.1f} s; floor {floor:.1f} s"
    (subject, *_) = _alert_mails(pipeline, "PodDown")
    assert "(critical)" in subject

    wait_until(lambda: pipeline.mails_of_type("incident_report"), timeout=60, what="incident report")
    # Let Alertmanager repeat the firing notification at least twice before the pod recovers.
    served = pipeline.functions["alert_webhook"]

    def webhook_calls() -> float:
        found = query(pipeline.prometheus, 'sum(whooper_http_requests_total{job="alert-webhook",route="/"})')
        return float(found[0]["value"][1]) if found else 0.0

    wait_until(lambda: webhook_calls() >= 3, timeout=60, what="Alertmanager repeating the notification")

    pipeline.kube.set_pods(_healthy())
    wait_until(lambda: _alert_mails(pipeline, "PodDown", "RESOLVED"), timeout=90, what="resolved email")

    def resolved() -> list[dict[str, object]]:
        return [i for i in pipeline.incidents() if i.get("status", {}).get("phase") == "Resolved"]

    (incident,) = wait_until(resolved, timeout=60, what="incident resolved")
    pod_down = [i for i in pipeline.incidents() if i["spec"]["alertname"] == "PodDown"]
    assert len(pod_down) == 1, "a repeated notification opened a second incident"
    reports = [m for m in pipeline.mails_of_type("incident_report") if "PodDown" in m.part("text/plain")]
    assert len(reports) == 1, f"{len(reports)} incident reports for one failure"
    assert float(incident["status"]["mttrSeconds"]) > 0

    wait_until(
        lambda: query(pipeline.prometheus, "sum(whooper_incident_mttr_seconds_count) >= 1"),
        timeout=30,
        what="MTTR observed in Prometheus",
    )
    assert "Traceback" not in served.logs()


def test_smtp_down_longer_than_a_retry_then_back_sends_one_email_late(pipeline: Pipeline) -> None:
    pipeline.mail.stop()
    _fail_pod(pipeline)
    wait_until(
        lambda: query(
            pipeline.prometheus,
            'sum(whooper_emails_sent_total{job="alert-webhook",type="alert",status="failure"}) >= 2',
        ),
        timeout=90,
        what="at least two failed sends (Alertmanager retried)",
    )
    pipeline.mail.start()
    wait_until(lambda: _alert_mails(pipeline, "PodDown"), timeout=90, what="the late PodDown email")
    time.sleep(pipeline.timings.tick_seconds + 2)  # room for a doubled email to show up
    assert len(_alert_mails(pipeline, "PodDown")) == 1


def test_incident_sink_failing_makes_alertmanager_retry_without_doubling_the_email(pipeline: Pipeline) -> None:
    incident_report = pipeline.functions["incident_report"]
    incident_report.stop()  # the Broker (K_SINK) is unreachable
    _fail_pod(pipeline)
    wait_until(
        lambda: query(pipeline.prometheus, 'sum(whooper_cloudevents_sent_total{outcome!="success"}) >= 2'),
        timeout=90,
        what="the sink failing at least twice (Alertmanager retried)",
    )
    incident_report.start()
    wait_until(lambda: pipeline.mails_of_type("incident_report"), timeout=90, what="incident report after recovery")
    assert len(_alert_mails(pipeline, "PodDown")) == 1, "the alert email went out twice"
    assert len([i for i in pipeline.incidents() if i["spec"]["alertname"] == "PodDown"]) == 1


def test_gemini_failing_gives_the_fallback_report(pipeline: Pipeline) -> None:
    assert pipeline.gemini is not None
    pipeline.gemini.fail(500, times=1000)
    _fail_pod(pipeline)
    (report, *_) = wait_until(lambda: pipeline.mails_of_type("incident_report"), timeout=120, what="report")
    text = report.part("text/plain").lower()
    assert "template" in text or "fallback" in text, "the report does not say its summary is the template"


def test_pushgateway_down_answers_5xx_and_the_stale_exporter_alert_fires(pipeline: Pipeline) -> None:
    pipeline.pushgateway.stop()
    wait_until(lambda: pipeline.tick_results and pipeline.tick_results[-1] >= 500, timeout=30, what="exporter 5xx")
    stale_alerts = {"WhooperPodExporterErrors", "WhooperPodExporterStale", "WhooperPodExporterPushFailing"}

    def stale_firing() -> list[str]:
        return [a["labels"]["alertname"] for a in pipeline.firing_alerts() if a["labels"]["alertname"] in stale_alerts]

    assert wait_until(stale_firing, timeout=120, what="stale-exporter alert")
