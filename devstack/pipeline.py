"""The whole flow of design.md on one machine, wired as Knative would wire it.

Real Prometheus, Alertmanager and Pushgateway (configured from ``monitoring/``
with intervals shortened), a real SMTP server, the Kubernetes API and Gemini
stand-ins, and the three functions served by functions-framework:

* Alertmanager posts to alert_webhook with its bearer token;
* alert_webhook's ``K_SINK`` is incident_report (the Broker's place);
* a ticker posts ``dev.knative.sources.ping`` events to pod_exporter (the PingSource's place);
* Prometheus scrapes the Pushgateway (honor_labels) and the functions' ``/metrics``.

Used by ``nox -s demo`` (devstack/demo.py) and by the pipeline tests.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import re
import secrets
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from devstack import monitoring
from devstack.engine import Engine, ensure_engine
from devstack.functions import ServedFunction
from devstack.gemini import GeminiServer, prompt_text
from devstack.kube_api import KubeApiServer
from devstack.smtp import MailCatcher, ReceivedMail
from devstack.stack import Service, start_alertmanager, start_prometheus, start_pushgateway

log = logging.getLogger("devstack.pipeline")

INCIDENT_GROUP = "whooper.dev"
INCIDENT_PLURAL = "incidents"
INCIDENT_NAMESPACE = "whooper"
GEMINI_MODEL = "gemini-2.5-flash"
ABSENT_FOR = "20s"
_DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(duration: str) -> float:
    """A Prometheus duration such as ``10m`` or ``30s`` in seconds."""
    match = _DURATION.match(duration.strip())
    if not match:
        raise ValueError(f"unsupported duration {duration!r}")
    return int(match.group(1)) * _SECONDS[match.group(2)]


@dataclass(frozen=True)
class Timings:
    """The shortened intervals; the alert latency floor follows from them."""

    scrape_interval: str = "1s"
    evaluation_interval: str = "1s"
    max_for: str = "5s"  # every rule's ``for:`` is capped at this
    group_wait: str = "2s"
    group_interval: str = "5s"
    repeat_interval: str = "30s"
    tick_seconds: float = 2.0  # the PingSource's place; every minute in a cluster

    def floor(self, rule_for: str) -> float:
        """Earliest an alert email can arrive after the cause: tick + scrape + evaluation + for + group_wait."""
        return (
            self.tick_seconds
            + seconds(self.scrape_interval)
            + seconds(self.evaluation_interval)
            + min(seconds(rule_for), seconds(self.max_for))
            + seconds(self.group_wait)
        )


def prometheus_rules(timings: Timings) -> dict[str, Any]:
    """The rule groups of monitoring/prometheusrule.yaml, each ``for:`` capped by ``timings.max_for``."""
    groups = copy.deepcopy(monitoring.rule_groups())
    cap = seconds(timings.max_for)
    for group in groups["groups"]:
        group.pop("interval", None)
        for rule in group["rules"]:
            if "for" in rule and seconds(rule["for"]) > cap:
                # Prometheus makes its first scrapes about 5 s after start (service discovery's update tick),
                # so an absent() rule capped below that would fire at every start before any data arrived.
                rule["for"] = ABSENT_FOR if "absent(" in rule["expr"] else timings.max_for
    return groups


def rule_for(alertname: str) -> str:
    """The ``for:`` of an alert as shipped in monitoring/ (before shortening)."""
    for rule in monitoring.alerting_rules():
        if rule["alert"] == alertname:
            return str(rule.get("for", "0s"))
    raise KeyError(alertname)


def alertmanager_config(timings: Timings, webhook_url: str, token_file: str) -> dict[str, Any]:
    """monitoring/alertmanager.yaml pointed at the local alert_webhook with its token, timers shortened."""
    config = monitoring.with_webhook_url(monitoring.alertmanager_config(), webhook_url)

    def shorten(route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval", "repeat_interval"):
            if key in route:
                route[key] = getattr(timings, key)
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    for receiver in config.get("receivers", []):
        for webhook in receiver.get("webhook_configs", []):
            webhook["http_config"] = {"authorization": {"type": "Bearer", "credentials_file": token_file}}
    return config


def gemini_answer(request: dict[str, Any]) -> str:
    """The Gemini stand-in's answer: a summary grounded in the prompt's own data block, as a good model gives."""
    text = prompt_text(request)
    pod = re.search(r"^POD (\S+)/(\S+)", text, re.MULTILINE)
    namespace, name = (pod.group(1), pod.group(2)) if pod else ("", "the workload")
    errors = [line.strip() for line in text.splitlines() if re.search(r"\b(ERROR|FATAL)\b", line)]
    evidence = (
        [{"claim": "The container logged this error just before it stopped.", "quote": errors[0]}] if errors else []
    )
    first_error = re.sub(r"^\S+\s+(ERROR|FATAL)\s+", "", errors[0]) if errors else ""
    where = f" in namespace {namespace}" if namespace else ""
    return json.dumps(
        {
            "summary": f"Pod {name}{where} is failing: its application container exits with an error.",
            "likely_cause": f"The application stops after this error: {first_error}"
            if first_error
            else "The application exits during start-up.",
            "evidence": evidence,
            "next_steps": [
                f"kubectl -n {namespace or 'default'} logs {name} --previous",
                f"kubectl -n {namespace or 'default'} describe pod {name}",
            ],
            "subject": f"{name} is failing",
        }
    )


class _Ticker:
    """Posts a PingSource-shaped CloudEvent to pod_exporter every ``interval`` seconds until stopped."""

    def __init__(self, url: str, interval: float, on_result: Callable[[int], None]) -> None:
        self._url = url
        self._interval = interval
        self._on_result = on_result
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ping-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def tick(self) -> int:
        headers = {
            "ce-specversion": "1.0",
            "ce-type": "dev.knative.sources.ping",
            "ce-source": "/apis/v1/namespaces/whooper/pingsources/pod-exporter-tick",
            "ce-id": str(uuid.uuid4()),
            "content-type": "application/json",
        }
        try:
            status = requests.post(self._url, data=b"{}", headers=headers, timeout=30).status_code
        except requests.RequestException:
            status = 0
        self._on_result(status)
        return status

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.tick()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=35)


@dataclass
class Pipeline:
    """Everything started, in dependency order, and stopped in reverse; a context manager."""

    timings: Timings = field(default_factory=Timings)
    engine: Engine | None = None
    gemini_api_key: str | None = None  # a real key: talk to the real Gemini instead of the stand-in
    pods: list[dict[str, Any]] = field(default_factory=list)  # the cluster before the first push
    tick_results: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="whooper-pipeline-"))
        self.token = secrets.token_urlsafe(24)
        self._stack: contextlib.ExitStack = contextlib.ExitStack()
        self.functions: dict[str, ServedFunction] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> Pipeline:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        engine = self.engine or ensure_engine()
        enter = self._stack.enter_context
        self.mail: MailCatcher = enter(MailCatcher())
        self.kube: KubeApiServer = enter(KubeApiServer())
        self.kube.register_custom_resource(INCIDENT_GROUP, "v1alpha1", INCIDENT_PLURAL, "Incident")
        self.kube.set_pods(self.pods)
        kubeconfig = self.kube.write_kubeconfig(self.workdir / "kubeconfig")
        self.gemini: GeminiServer | None = None
        if not self.gemini_api_key:
            self.gemini = enter(GeminiServer())
            self.gemini.respond_with(gemini_answer)

        mail_env = {
            "SMTP_HOST": self.mail.host,
            "SMTP_PORT": str(self.mail.port),
            "EMAIL_FROM": "Whooper Alerts <alerts@whooper.local>",
            "ALERT_EMAIL": "oncall@example.com",
        }
        gemini_env: dict[str, str] = (
            {"GEMINI_API_KEY": self.gemini_api_key or "", "GEMINI_MODEL": GEMINI_MODEL}
            if self.gemini is None
            else {
                "GEMINI_API_KEY": self.gemini.api_key,
                "GEMINI_MODEL": GEMINI_MODEL,
                "GEMINI_BASE_URL": self.gemini.base_url,
            }
        )
        self.functions["incident_report"] = self._serve(
            "incident_report",
            {**mail_env, **gemini_env, "KUBECONFIG": str(kubeconfig), "INCIDENT_NAMESPACE": INCIDENT_NAMESPACE},
        )
        self.functions["alert_webhook"] = self._serve(
            "alert_webhook",
            {**mail_env, "WEBHOOK_BEARER_TOKEN": self.token, "K_SINK": self.functions["incident_report"].url},
        )
        self.pushgateway: Service = self._service(start_pushgateway(engine))
        self.functions["pod_exporter"] = self._serve(
            "pod_exporter", {"KUBECONFIG": str(kubeconfig), "PUSHGATEWAY_URL": self.pushgateway.url}
        )
        self.ticker = _Ticker(
            f"{self.functions['pod_exporter'].url}/", self.timings.tick_seconds, self.tick_results.append
        )
        # The first push lands before Prometheus starts, so no "exporter missing" alert at start.
        first = self.ticker.tick()
        log.info("first pod_exporter run answered %s", first)
        self.alertmanager: Service = self._service(
            start_alertmanager(
                alertmanager_config(
                    self.timings, f"{self.functions['alert_webhook'].url}/", "/etc/whooper/webhook-token"
                ),
                engine,
                files={"webhook-token": self.token},
            )
        )
        scrape_configs: list[dict[str, Any]] = [
            {
                "job_name": "pushgateway",
                "honor_labels": True,
                "static_configs": [{"targets": [self.pushgateway.address]}],
            },
            # One job per function, named like the PodMonitor names them (the Knative Service).
            *(
                {
                    "job_name": name.replace("_", "-"),
                    "static_configs": [{"targets": [f"127.0.0.1:{served.port}"], "labels": {"namespace": "whooper"}}],
                }
                for name, served in self.functions.items()
            ),
        ]
        self.prometheus: Service = self._service(
            start_prometheus(
                scrape_configs,
                rules={"whooper-rules.yml": prometheus_rules(self.timings)},
                alertmanager=self.alertmanager,
                scrape_interval=self.timings.scrape_interval,
                evaluation_interval=self.timings.evaluation_interval,
                engine=engine,
            )
        )
        self.ticker.start()
        self._stack.callback(self.ticker.stop)

    def _serve(self, name: str, env: dict[str, str]) -> ServedFunction:
        served = ServedFunction(name, {"LOG_LEVEL": "INFO", **env}).start()
        self._stack.callback(served.stop)
        return served

    def _service(self, service: Service) -> Service:
        self._stack.callback(service.stop)
        return service

    def stop(self) -> None:
        self._stack.close()

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what a person watching would look at -----------------------------------------------------------------

    def incidents(self) -> list[dict[str, Any]]:
        return self.kube.list_custom_objects(INCIDENT_GROUP, INCIDENT_PLURAL, INCIDENT_NAMESPACE)

    def mails_of_type(self, kind: str) -> list[ReceivedMail]:
        return [m for m in self.mail.messages if m.message.get("X-Whooper-Type") == kind]

    def firing_alerts(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.alertmanager.url}/api/v2/alerts", params={"active": "true"}, timeout=5)
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()
        return alerts

    def logs(self) -> Iterator[tuple[str, str]]:
        for name, served in self.functions.items():
            yield name, served.logs()
