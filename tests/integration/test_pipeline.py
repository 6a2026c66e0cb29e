"""The whole pipeline, end to end, with faults injected: nothing lost, nothing doubled.

Timing: the PodDown email must arrive within its floor (tick + scrape +
evaluation + for + group_wait, from the demo's shortened timings) plus
SLACK_SECONDS. The slack covers the functions' own work, Alertmanager's flush
and a shared, noisy machine; it is generous on purpose: the point is that the
alert path has no hidden waits, not to benchmark it (``nox -s bench`` does).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack import monitoring
from devstack.demo import FAILING, HEALTHY, healthy_cluster, play
from devstack.engine import Engine
from devstack.kube_api import make_pod
from devstack.pipeline import Pipeline, Timings, rule_for
from devstack.stack import query, wait_until

SLACK_SECONDS = 30.0
CATALOG = monitoring.load_yaml("metrics-catalog.yaml")["metrics"]
EXTERNAL_SOURCES = {"kube-state-metrics", "cAdvisor"}
# Dashboard panels fed only by sources the demo does not run; an empty set says every panel must show data.
PANELS_FED_BY_EXTERNAL_SOURCES: set[str] = set()


def _alert_mails(pipeline: Pipeline, alertname: str, status: str = "FIRING") -> list[str]:
    return [m.subject for m in pipeline.mails_of_type("alert") if alertname in m.subject and f"[{status}" in m.subject]


def _incidents(pipeline: Pipeline, alertname: str) -> list[dict[str, Any]]:
    return [i for i in pipeline.incidents() if i["spec"]["alertname"] == alertname]


def _reports(pipeline: Pipeline, alertname: str) -> list[str]:
    return [m.subject for m in pipeline.mails_of_type("incident_report") if f"Incident {alertname}" in m.subject]


def _fail_pod(pipeline: Pipeline) -> None:
    namespace, name = FAILING
    pipeline.kube.add_pod(make_pod(name, namespace, "Failed", terminated_reason="Error"))


def _value(pipeline: Pipeline, promql: str) -> float:
    found = query(pipeline.prometheus, promql)
    return float(found[0]["value"][1]) if found else 0.0


def _start(timings: Timings, engine: Engine) -> Pipeline:
    pipeline = Pipeline(timings, engine=engine, pods=healthy_cluster()).start()
    try:
        wait_until(
            lambda: query(pipeline.prometheus, f"whooper_pods_running == {len(HEALTHY)}"),
            timeout=60,
            what="the exporter's first push scraped",
        )
    except BaseException:
        pipeline.stop()
        raise
    return pipeline


@pytest.fixture
def pipeline(engine: Engine) -> Iterator[Pipeline]:
    started = _start(Timings(), engine)
    yield started
    started.stop()


def test_the_demo_story_mails_opens_incidents_once_and_records_mttr(pipeline: Pipeline, tmp_path: Path) -> None:
    timeline = play(pipeline, tmp_path)

    floor = pipeline.timings.floor(rule_for("PodDown"))
    latency = timeline.when("alert email sent: [FIRING:1] PodDown") - timeline.when("pod failed")
    assert latency <= floor + SLACK_SECONDS, f"PodDown email after {latency:.1f} s; floor {floor:.1f} s"
    assert timeline.when("alert email sent: [RESOLVED:1] PodDown") > timeline.when("fix rolled out")

    for alertname in ("PodDown", "PodCrashLooping"):
        (incident,) = _incidents(pipeline, alertname)
        assert incident["status"]["phase"] == "Resolved"
        assert float(incident["status"]["mttrSeconds"]) > 0
        assert len(_reports(pipeline, alertname)) == 1
        assert len(_alert_mails(pipeline, alertname, "RESOLVED")) == 1
    wait_until(
        lambda: _value(pipeline, "sum(whooper_incident_mttr_seconds_count)") == 2,
        timeout=30,
        what="both MTTRs observed in Prometheus",
    )

    written = {path.suffix for path in tmp_path.iterdir()}
    assert written == {".eml", ".html", ".json"}, "the demo writes every email as .eml and .html, and the incidents"
    assert all(json.loads(p.read_text())["kind"] == "Incident" for p in tmp_path.glob("incident-*.json"))

    # Every dashboard query returns data from this Prometheus, but for panels fed by external sources.
    dashboard = json.loads(monitoring.DASHBOARD_JSON.read_text())
    empty, external = [], set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            names = monitoring.metric_names(target["expr"])
            if any(CATALOG.get(name, {}).get("source") in EXTERNAL_SOURCES for name in names):
                external.add(panel["title"])
                continue
            if not query(pipeline.prometheus, target["expr"].replace("$__rate_interval", "1m")):
                empty.append(f"{panel['title']}: {target['expr']}")
    assert external == PANELS_FED_BY_EXTERNAL_SOURCES
    assert empty == [], "dashboard queries without data:\n" + "\n".join(empty)


def test_alertmanager_repeats_open_no_second_incident_or_report(engine: Engine) -> None:
    pipeline = _start(Timings(group_interval="3s", repeat_interval="6s"), engine)
    try:
        _fail_pod(pipeline)
        wait_until(lambda: _reports(pipeline, "PodDown"), timeout=90, what="the incident report")
        wait_until(
            lambda: _value(pipeline, 'sum(whooper_http_requests_total{job="alert-webhook",route="/"})') >= 3,
            timeout=90,
            what="Alertmanager repeating the notification",
        )
        # Give a doubled incident or report time to show before counting.
        time.sleep(pipeline.timings.tick_seconds * 2)
        assert len(_incidents(pipeline, "PodDown")) == 1, "a repeated notification opened a second incident"
        assert len(_reports(pipeline, "PodDown")) == 1, "a repeated notification sent a second report"
    finally:
        pipeline.stop()


def test_smtp_down_longer_than_a_retry_then_back_sends_one_email_late(pipeline: Pipeline) -> None:
    pipeline.mail.stop()
    _fail_pod(pipeline)
    wait_until(
        lambda: _value(pipeline, 'sum(whooper_emails_sent_total{job="alert-webhook",status="failure"})') >= 2,
        timeout=90,
        what="two failed sends: Alertmanager retried while mail was down",
    )
    pipeline.mail.start()
    wait_until(lambda: _alert_mails(pipeline, "PodDown"), timeout=90, what="the late PodDown email")
    wait_until(lambda: _reports(pipeline, "PodDown"), timeout=60, what="the incident report")
    assert len(_alert_mails(pipeline, "PodDown")) == 1


def test_incident_sink_failing_makes_alertmanager_retry_without_doubling_the_email(pipeline: Pipeline) -> None:
    incident_report = pipeline.functions["incident_report"]
    incident_report.stop()  # the Broker (K_SINK) is unreachable
    _fail_pod(pipeline)
    wait_until(lambda: _alert_mails(pipeline, "PodDown"), timeout=90, what="the PodDown email, before the events")
    failures = _value(pipeline, 'sum(whooper_cloudevents_sent_total{outcome!="accepted"})')
    wait_until(
        lambda: _value(pipeline, 'sum(whooper_cloudevents_sent_total{outcome!="accepted"})') >= failures + 2,
        timeout=90,
        what="two more failed event deliveries: Alertmanager retried",
    )
    assert len(_alert_mails(pipeline, "PodDown")) == 1
    incident_report.start()
    wait_until(lambda: _reports(pipeline, "PodDown"), timeout=90, what="incident report after the sink recovered")
    assert len(_alert_mails(pipeline, "PodDown")) == 1, "the alert email went out twice"
    assert len(_incidents(pipeline, "PodDown")) == 1


def test_gemini_failing_gives_the_fallback_report(pipeline: Pipeline) -> None:
    assert pipeline.gemini is not None
    pipeline.gemini.fail(500, times=1000)
    _fail_pod(pipeline)
    wait_until(lambda: _reports(pipeline, "PodDown"), timeout=90, what="the incident report")
    (report,) = [m for m in pipeline.mails_of_type("incident_report") if "PodDown" in m.subject]
    text = report.part("text/plain").lower()
    assert "template" in text, "the report does not say its summary is the template"
    (incident,) = wait_until(
        lambda: [i for i in _incidents(pipeline, "PodDown") if i.get("status", {}).get("reportSentAt")],
        timeout=30,
        what="the report marked sent on the incident",
    )
    assert incident["status"]["summarySource"] != "gemini"


def test_pushgateway_down_answers_5xx_and_the_exporter_alert_fires(pipeline: Pipeline) -> None:
    pipeline.pushgateway.stop()
    wait_until(lambda: pipeline.tick_results and pipeline.tick_results[-1] >= 500, timeout=30, what="exporter 5xx")
    watched = {"WhooperPodExporterErrors", "WhooperPodExporterStale", "WhooperPodExporterPushFailing"}

    def firing() -> set[str]:
        return {a["labels"]["alertname"] for a in pipeline.firing_alerts()} & watched

    assert wait_until(firing, timeout=120, what="an exporter alert firing")
