"""End-to-end alert latency of the pipeline against its configured floor.

The pipeline of the demo and the pipeline tests (devstack.pipeline): the rules
and routes of monitoring/ with shortened timings, pod_exporter ticked in place
of the PingSource, real Prometheus, Alertmanager and Pushgateway, alert_webhook
and incident_report served by functions-framework, a real SMTP server. Timed
from the moment a pod is marked Failed in the Kubernetes API stand-in to the
arrival of its PodDown email.

The floor is what the configuration alone forces: tick + scrape interval +
evaluation interval + ``for`` + ``group_wait`` (``Timings.floor``).
"""

from __future__ import annotations

import time

from bench.measure import median, seconds
from bench.report import Row
from devstack.kube_api import make_pod
from devstack.pipeline import Pipeline, Timings, rule_for
from devstack.smtp import MailCatcher
from devstack.stack import query, wait_until

GOAL = 1.5  # end-to-end latency as a multiple of the floor
RUNS = 3
NAMESPACE = "shop"
ALERT = "PodDown"


def _latency(pipeline: Pipeline, mail: MailCatcher, pod: str) -> float:
    arrived = len(mail.messages)
    started = time.monotonic()
    pipeline.kube.add_pod(make_pod(pod, NAMESPACE, "Failed", terminated_reason="Error"))
    while True:
        messages = mail.wait_for(arrived + 1, timeout=90)
        for message in messages[arrived:]:
            is_alert = message.message.get("X-Whooper-Type") == "alert" and ALERT in message.subject
            if is_alert and pod in message.part("text/plain"):
                return time.monotonic() - started
        arrived = len(messages)


def measure() -> tuple[list[Row], list[str]]:
    pods = [f"checkout-{n}" for n in range(RUNS)]
    timings = Timings()
    latencies: list[float] = []
    healthy = [make_pod(name, NAMESPACE) for name in [*pods, "frontend-0", "frontend-1"]]
    with Pipeline(timings, pods=healthy) as pipeline:
        wait_until(
            lambda: query(pipeline.prometheus, f"whooper_pods_running == {len(healthy)}"),
            timeout=60,
            what="the pods scraped by Prometheus",
        )
        for pod in pods:
            latencies.append(_latency(pipeline, pipeline.mail, pod))
    floor = timings.floor(rule_for(ALERT))
    latency = median(latencies)
    ratio = latency / floor
    row = Row(
        "alert pipeline end to end",
        f"pod marked Failed → {ALERT} email, median of {RUNS}",
        f"{seconds(latency)} (runs: {', '.join(seconds(v) for v in latencies)})",
        f"floor {floor:g} s = tick {timings.tick_seconds:g} + scrape {timings.scrape_interval} + evaluation "
        f"{timings.evaluation_interval} + for {timings.max_for} (capped) + group_wait {timings.group_wait}",
        f"{ratio:.2f}× the floor",
        f"≤ {GOAL}× the floor",
        ratio <= GOAL,
    )
    note = (
        f"alert pipeline: the demo's pipeline (monitoring/ rules and routes, timings shortened); pod_exporter ticks "
        f"every {timings.tick_seconds:g} s where a PingSource ticks every minute, which adds up to a minute in a "
        "cluster."
    )
    return [row], [note]
