"""End-to-end alert latency of the pipeline against its configured floor.

pod_exporter (ticked every second, as a PingSource would every minute) lists the
Kubernetes API stand-in and pushes to a real Pushgateway; a real Prometheus
scrapes it and evaluates ``whooper_pod_phase{phase="Failed"} == 1`` with a short
``for``; a real Alertmanager posts to alert_webhook (bearer token), which mails
the alert to a real SMTP server. Timed from the moment a pod is marked Failed
in the stand-in to the email's arrival.

The floor is what the configuration alone forces: scrape interval + evaluation
interval + ``for`` + ``group_wait``. The exporter's tick comes on top of it.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from bench.configs import WEBHOOK_TOKEN, mail_env, pod_exporter_env
from bench.measure import median, seconds
from bench.report import Row
from devstack.functions import ServedFunction
from devstack.kube_api import KubeApiServer, make_pod
from devstack.smtp import MailCatcher
from devstack.stack import start_alertmanager, start_prometheus, start_pushgateway, wait_until

SCRAPE_SECONDS = 1
EVALUATION_SECONDS = 1
FOR_SECONDS = 2
GROUP_WAIT_SECONDS = 1
TICK_SECONDS = 1.0
FLOOR = SCRAPE_SECONDS + EVALUATION_SECONDS + FOR_SECONDS + GROUP_WAIT_SECONDS
GOAL = 1.5  # end-to-end latency as a multiple of the floor
RUNS = 3
NAMESPACE = "shop"
ALERT = "BenchPodFailed"


def _rules() -> dict[str, Any]:
    rule = {
        "alert": ALERT,
        "expr": 'whooper_pod_phase{phase="Failed"} == 1',
        "for": f"{FOR_SECONDS}s",
        "labels": {"severity": "critical"},
        "annotations": {"summary": "Pod {{ $labels.namespace }}/{{ $labels.pod }} failed"},
    }
    return {"groups": [{"name": "bench-pipeline", "rules": [rule]}]}


def _alertmanager_config(webhook_url: str) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "alert-webhook",
            "group_by": ["alertname", "namespace", "pod"],
            "group_wait": f"{GROUP_WAIT_SECONDS}s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "alert-webhook",
                "webhook_configs": [
                    {
                        "url": f"{webhook_url}/",
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": WEBHOOK_TOKEN}},
                    }
                ],
            }
        ],
    }


@contextlib.contextmanager
def _ticker(url: str) -> Iterator[None]:
    """POST / to pod_exporter every tick, in place of the PingSource."""
    stopping = threading.Event()

    def tick() -> None:
        while not stopping.wait(TICK_SECONDS):
            with contextlib.suppress(requests.RequestException):
                requests.post(f"{url}/", timeout=10)

    thread = threading.Thread(target=tick, name="ping-ticker", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopping.set()
        thread.join(timeout=15)


def _latency(kube: KubeApiServer, mail: MailCatcher, pod: str) -> float:
    arrived = len(mail.messages)
    started = time.monotonic()
    kube.add_pod(make_pod(pod, NAMESPACE, "Failed", terminated_reason="Error"))
    while True:
        messages = mail.wait_for(arrived + 1, timeout=60)
        if any(pod in message.subject or pod in message.part("text/plain") for message in messages[arrived:]):
            return time.monotonic() - started
        arrived = len(messages)


def measure() -> tuple[list[Row], list[str]]:
    latencies: list[float] = []
    pods = [f"checkout-{n}" for n in range(RUNS)]
    stack = contextlib.ExitStack()
    with stack, tempfile.TemporaryDirectory(prefix="whooper-bench-") as tmp:
        kube = stack.enter_context(KubeApiServer())
        kube.set_pods(make_pod(name, NAMESPACE) for name in [*pods, "frontend-0", "frontend-1"])
        kubeconfig = kube.write_kubeconfig(Path(tmp) / "kubeconfig")
        mail = stack.enter_context(MailCatcher())
        pushgateway = stack.enter_context(start_pushgateway())
        exporter = stack.enter_context(ServedFunction("pod_exporter", pod_exporter_env(kubeconfig, pushgateway.url)))
        env = {**mail_env(mail.port), "WEBHOOK_BEARER_TOKEN": WEBHOOK_TOKEN}
        webhook = stack.enter_context(ServedFunction("alert_webhook", env))
        alertmanager = stack.enter_context(start_alertmanager(_alertmanager_config(webhook.url)))
        scrape = {
            "job_name": "pushgateway",
            "honor_labels": True,
            "static_configs": [{"targets": [pushgateway.address]}],
        }
        prometheus = stack.enter_context(
            start_prometheus(
                [scrape],
                rules={"bench.yml": _rules()},
                alertmanager=alertmanager,
                scrape_interval=f"{SCRAPE_SECONDS}s",
                evaluation_interval=f"{EVALUATION_SECONDS}s",
            )
        )
        stack.enter_context(_ticker(exporter.url))
        wait_until(
            lambda: requests.get(
                f"{prometheus.url}/api/v1/query", params={"query": "whooper_pods_total"}, timeout=5
            ).json()["data"]["result"],
            timeout=60,
            what="the pods scraped by Prometheus",
        )
        for pod in pods:
            latencies.append(_latency(kube, mail, pod))
    latency = median(latencies)
    ratio = latency / FLOOR
    row = Row(
        "alert pipeline end to end",
        f"pod marked Failed → alert email, median of {RUNS}",
        f"{seconds(latency)} (runs: {', '.join(seconds(v) for v in latencies)})",
        f"floor {FLOOR} s = scrape {SCRAPE_SECONDS} + evaluation {EVALUATION_SECONDS} + for {FOR_SECONDS} "
        f"+ group_wait {GROUP_WAIT_SECONDS}",
        f"{ratio:.2f}× the floor",
        f"≤ {GOAL}× the floor",
        ratio <= GOAL,
    )
    note = (
        f"alert pipeline: pod_exporter ticks every {TICK_SECONDS:g} s (a PingSource ticks every minute, which adds "
        "up to a minute in a cluster); the time above includes that tick, the push, and the email."
    )
    return [row], [note]
