"""``nox -s demo``: the whole pipeline on this machine, playing a short incident story.

A healthy cluster; a pod fails; another crash-loops; both recover. The timeline
is printed as it happens, every email is written to the output folder as
``.eml`` and ``.html`` beside the incident records, and everything started is
stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devstack.kube_api import make_event, make_pod, pod_events
from devstack.pipeline import Pipeline, Timings
from devstack.smtp import ReceivedMail
from devstack.stack import query

HEALTHY = [
    ("shop", "checkout-7d9f8c6b5-x2k4p"),
    ("shop", "cart-5c7b9d8f6-q8w3e"),
    ("shop", "frontend-6b8c9d7f5-m4n7b"),
    ("payments", "ledger-84f6d9c7b-t5r2z"),
    ("payments", "gateway-9c8b7d6f5-h3j6k"),
    ("platform", "ingress-nginx-controller-5d8f9-l2p4q"),
]
FAILING = ("shop", "checkout-7d9f8c6b5-x2k4p")
LEDGER = ("payments", "ledger-84f6d9c7b-t5r2z")
CRASHING = ("payments", "ledger-9d8c7b6a5-w4x8c")  # a bad rollout's pod, replacing the healthy ledger
# Recovery is a rollout, as in a cluster: the fixed ReplicaSet's new pods replace the broken ones.
RECOVERED = {FAILING: ("shop", "checkout-5f6a7b8c9-r7t2w"), LEDGER: ("payments", "ledger-6c7d8e9f1-k9m3n")}
FAILING_LOG = """\
2026-12-03T10:14:02Z INFO starting checkout service v2.14.1
2026-12-03T10:14:03Z INFO connecting to postgres at orders-db.shop.svc:5432
2026-12-03T10:14:08Z ERROR could not connect to orders-db.shop.svc:5432: connection refused
2026-12-03T10:14:08Z FATAL giving up after 5 attempts; exiting with status 1
"""
CRASHING_LOG = """\
2026-12-03T10:15:11Z INFO ledger starting, heap limit 256Mi
2026-12-03T10:15:19Z WARN replaying 1.2M journal entries into memory
2026-12-03T10:15:24Z ERROR java.lang.OutOfMemoryError: Java heap space
"""


class Timeline:
    """Prints what happened since the story began, once per event, with a progress line while waiting."""

    def __init__(self, pipeline: Pipeline, output: Path) -> None:
        self.pipeline = pipeline
        self.output = output
        self.started = time.monotonic()
        self.seen: set[str] = set()
        self.tty = sys.stdout.isatty()
        self.events: list[tuple[float, str]] = []  # (seconds since the story began, what happened)

    def say(self, text: str) -> None:
        at = time.monotonic() - self.started
        self.events.append((at, text))
        if self.tty:
            sys.stdout.write("\r\033[K")
        print(f"[{at:6.1f}s] {text}", flush=True)

    def when(self, prefix: str) -> float:
        """When the first event starting with ``prefix`` happened (seconds since the story began)."""
        return next(at for at, text in self.events if text.startswith(prefix))

    def _once(self, key: str, text: str) -> None:
        if key not in self.seen:
            self.seen.add(key)
            self.say(text)

    def poll(self) -> None:
        for alert in self.pipeline.firing_alerts():
            labels = alert["labels"]
            where = "/".join(x for x in (labels.get("namespace"), labels.get("pod")) if x)
            self._once(
                f"alert:{alert['fingerprint']}",
                f"alert firing: {labels.get('alertname')} ({labels.get('severity', 'none')}) {where}",
            )
        for index, mail in enumerate(self.pipeline.mail.messages):
            kind = str(mail.message.get("X-Whooper-Type", "mail"))
            if f"mail:{index}" not in self.seen:
                path = self._write_mail(index, mail)
                label = {
                    "alert": "alert email sent",
                    "incident_report": "incident report sent",
                    "incident_resolved": "resolution email sent",
                }.get(kind, kind)
                self._once(f"mail:{index}", f"{label}: {mail.subject}  -> {path.name}")
        for incident in self.pipeline.incidents():
            name = incident["metadata"]["name"]
            spec, status = incident.get("spec", {}), incident.get("status", {})
            self._once(
                f"incident:{name}",
                f"incident opened: {name} ({spec.get('alertname')}, {spec.get('severity')})",
            )
            if status.get("phase") == "Resolved":
                mttr = status.get("mttrSeconds")
                self._once(f"resolved:{name}", f"incident resolved: {name}, MTTR {mttr} s")
            (self.output / f"incident-{name}.json").write_text(json.dumps(incident, indent=2))

    def _write_mail(self, index: int, mail: ReceivedMail) -> Path:
        stem = f"{index + 1:02d}-{mail.message.get('X-Whooper-Type', 'mail')}"
        (self.output / f"{stem}.eml").write_bytes(mail.raw)
        with_html = self.output / f"{stem}.html"
        try:
            with_html.write_text(mail.part("text/html"))
        except KeyError:
            with_html.write_text(f"<pre>{mail.part('text/plain')}</pre>")
        return with_html

    def wait(self, what: str, done: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if done():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
            if self.tty:
                left = deadline - time.monotonic()
                sys.stdout.write(f"\r\033[K  … waiting for {what} ({left:.0f} s left)")
                sys.stdout.flush()
            time.sleep(0.5)


def healthy_cluster(recovered: bool = False) -> list[dict[str, Any]]:
    pods = [RECOVERED.get(pod, pod) if recovered else pod for pod in HEALTHY]
    return [make_pod(name, namespace) for namespace, name in pods]


def _app_container(pipeline: Pipeline, namespace: str, name: str) -> str:
    pod = pipeline.kube.get_pod(namespace, name) or {}
    return str(pod["spec"]["containers"][0]["name"])


def play(pipeline: Pipeline, output: Path) -> Timeline:
    """The story. Each step waits for what a person would watch for, and the timeline says when it came."""
    timeline = Timeline(pipeline, output)
    kube = pipeline.kube
    timeline.say(f"cluster up: {len(HEALTHY)} pods running in shop, payments, platform")
    timeline.wait(
        "the exporter's first push to reach Prometheus",
        lambda: bool(query(pipeline.prometheus, f"whooper_pods_running == {len(HEALTHY)}")),
        60,
    )
    timeline.say("Prometheus sees a healthy cluster (whooper_pods_running)")

    namespace, name = FAILING
    kube.add_pod(make_pod(name, namespace, "Failed", terminated_reason="Error"))
    kube.set_logs(namespace, name, FAILING_LOG, container=_app_container(pipeline, namespace, name))
    kube.add_event(make_event(namespace, name, "BackOff", "Back-off restarting failed container"))
    timeline.say(f"pod failed: {namespace}/{name}")

    kube.delete_pod(*LEDGER)
    namespace, name = CRASHING
    crashing = make_pod(
        name, namespace, containers=1, waiting_reason="CrashLoopBackOff", terminated_reason="OOMKilled", restarts=6
    )
    kube.add_pod(crashing)
    # The crashed run's log is what `kubectl logs --previous` shows, and what incident_report reads for a restarted pod.
    kube.set_logs(namespace, name, CRASHING_LOG, container=_app_container(pipeline, namespace, name), previous=True)
    for event in pod_events(crashing):
        kube.add_event(event)
    timeline.say(f"a new ledger version rolled out; its pod crash-loops: {namespace}/{name}")

    timeline.wait("incident reports for both pods", lambda: len(pipeline.mails_of_type("incident_report")) >= 2, 150)

    kube.set_pods(healthy_cluster(recovered=True))
    timeline.say("fix rolled out: both broken pods replaced by healthy ones")
    timeline.wait(
        "both incidents resolved",
        lambda: sum(1 for i in pipeline.incidents() if i.get("status", {}).get("phase") == "Resolved") >= 2,
        150,
    )
    timeline.wait(
        "Prometheus to scrape the MTTRs",
        lambda: bool(query(pipeline.prometheus, "sum(whooper_incident_mttr_seconds_count) >= 2")),
        30,
    )
    timeline.say("Prometheus has the MTTR of both incidents (whooper_incident_mttr_seconds)")
    return timeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("demo-output"), help="where emails and incidents go")
    args = parser.parse_args(argv)
    output: Path = args.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    for old in output.glob("*"):
        if old.suffix in {".eml", ".html", ".json"}:
            old.unlink()
    api_key = os.environ.get("GEMINI_API_KEY") or None
    print(f"Whooper demo — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; output goes to {output}")
    print(
        "starting Prometheus, Alertmanager, Pushgateway, SMTP, the Kubernetes API and Gemini stand-ins, 3 functions …"
    )
    try:
        with Pipeline(Timings(), gemini_api_key=api_key, pods=healthy_cluster()) as pipeline:
            print(f"  Prometheus   {pipeline.prometheus.url}")
            print(f"  Alertmanager {pipeline.alertmanager.url}")
            print(f"  Pushgateway  {pipeline.pushgateway.url}")
            print("  Gemini       " + ("the real API (GEMINI_API_KEY)" if api_key else "the local stand-in"))
            play(pipeline, output)
    except KeyboardInterrupt:
        print("\ninterrupted: everything started has been stopped")
        return 130
    except TimeoutError as error:
        print(f"\ndemo stopped: {error}. Output so far is in {output}")
        return 1
    print(f"\ndone. Emails (.eml and .html) and incident records are in {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
