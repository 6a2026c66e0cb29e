"""alert_webhook through its real HTTP server, against a bare handler on the same server settings.

Both run under ``python -m functions_framework`` (gunicorn, its default
worker and threads). alert_webhook mails through a real SMTP server and posts
its CloudEvents to a real HTTP sink, both in a separate process; the load
generator uses keep-alive connections from a fixed number of clients, bounded
in requests and in time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import count

import requests
from prometheus_client.parser import text_string_to_metric_families

from bench.configs import BARE_SOURCE, WEBHOOK_TOKEN, alert_webhook_env
from bench.load import LoadResult, post_all
from bench.measure import Background, BenchError, child_env, seconds
from bench.payloads import notification
from bench.report import Row
from devstack.functions import ServedFunction

THROUGHPUT_GOAL = 0.5  # single-alert notifications per second, as a share of the bare handler's
SERVER_TIME_GOAL = 1.0  # seconds for a 1,000-alert notification
HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {WEBHOOK_TOKEN}"}


@dataclass(frozen=True)
class Case:
    alerts: int
    clients: int
    requests: int
    max_seconds: float


# Throughput wants several clients; the large payloads are timed one at a time, so their server time is their own.
LARGE = 1000
CASES = (Case(1, 4, 3000, 8.0), Case(100, 2, 200, 10.0), Case(LARGE, 1, 20, 15.0))
WARM_UP = 20


def _server_time(function: ServedFunction) -> tuple[float, float]:
    """Sum and count of the function's own ``whooper_http_request_duration_seconds`` for ``POST /``."""
    text = requests.get(f"{function.url}/metrics", timeout=10).text
    total = count = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != "whooper_http_request_duration_seconds":
            continue
        for sample in family.samples:
            if sample.labels.get("route") == "/" and sample.labels.get("method") == "POST":
                if sample.name.endswith("_sum"):
                    total = sample.value
                elif sample.name.endswith("_count"):
                    count = sample.value
    return total, count


def _summary(result: LoadResult) -> str:
    rate = f"{result.per_second:.1f}" if result.per_second < 10 else f"{result.per_second:.0f}"
    return f"{rate}/s, p50 {seconds(result.p(50))}, p99 {seconds(result.p(99))}"


def _check(name: str, result: LoadResult, function: ServedFunction) -> None:
    if result.failures:
        raise BenchError(
            f"{name}: {result.failures} request(s) failed {dict(result.statuses)}; log tail:\n{function.logs()[-1500:]}"
        )


def _sinks_ready(line: str) -> tuple[int, str]:
    match = re.fullmatch(r"ready smtp=(\d+) sink=(\S+)", line)
    if not match:
        raise BenchError(f"the sinks process said {line!r}")
    return int(match.group(1)), match.group(2)


def _bare_baseline(case: Case) -> LoadResult:
    bare = ServedFunction("bare", source=BARE_SOURCE).start()
    try:
        post_all(bare.port, [b"{}"] * WARM_UP, HEADERS, 1, 10)
        baseline = post_all(bare.port, [b"{}"] * case.requests, HEADERS, case.clients, case.max_seconds)
        _check("bare handler", baseline, bare)
    finally:
        bare.stop()
    return baseline


def _row(case: Case, result: LoadResult, server_mean: float, baseline: LoadResult) -> Row:
    label = f"{case.alerts} alert(s) a notification, {case.clients} client(s), {result.requests} requests"
    measured = f"{_summary(result)}, server mean {seconds(server_mean)}"
    if case.alerts == 1:
        ratio = result.per_second / baseline.per_second
        return Row(
            "alert_webhook",
            label,
            measured,
            f"bare: {_summary(baseline)}",
            f"{ratio:.2f}× throughput",
            f"≥ {THROUGHPUT_GOAL}× bare throughput",
            ratio >= THROUGHPUT_GOAL,
        )
    if case.alerts == LARGE:
        goal = f"< {SERVER_TIME_GOAL:.0f} s server time"
        return Row("alert_webhook", label, measured, "", "", goal, server_mean < SERVER_TIME_GOAL)
    return Row("alert_webhook", label, measured, "", "")


def measure(devstack_sinks: bool = False) -> tuple[list[Row], list[str]]:
    """``devstack_sinks``: mail to devstack's MailCatcher and post to its Receiver instead (see bench.sinks)."""
    rows: list[Row] = []
    baseline = _bare_baseline(CASES[0])
    mails = events = 0
    sinks = Background(["-m", "bench.sinks", *(["--devstack"] if devstack_sinks else [])], child_env(), "sinks")
    with sinks:
        smtp_port, sink_url = _sinks_ready(sinks.ready_line)
        webhook = ServedFunction("alert_webhook", alert_webhook_env(smtp_port, sink_url)).start()
        try:
            # Every body is unique (see bench.payloads), so the dedupe record never short-cuts a request.
            sequence = count(1)
            warm = [notification(1, next(sequence)) for _ in range(WARM_UP)]
            _check("alert_webhook warm-up", post_all(webhook.port, warm, HEADERS, 1, 30), webhook)
            mails, events = WARM_UP, WARM_UP
            for case in CASES:
                bodies = [notification(case.alerts, next(sequence)) for _ in range(case.requests)]
                before = _server_time(webhook)
                result = post_all(webhook.port, bodies, HEADERS, case.clients, case.max_seconds)
                _check(f"alert_webhook {case.alerts} alert(s)", result, webhook)
                after = _server_time(webhook)
                rows.append(_row(case, result, (after[0] - before[0]) / max(1.0, after[1] - before[1]), baseline))
                mails += result.requests
                events += result.requests * case.alerts
        finally:
            webhook.stop()
    received = sinks.output_line("received")
    # A 2xx means the email went out and every event was accepted; the sinks' own count must agree.
    if received != f"received mails={mails} events={events}":
        raise BenchError(
            f"alert_webhook answered 2xx for {mails} mails and {events} events, but the sinks say {received}"
        )
    sinks_kind = "devstack's MailCatcher and Receiver" if devstack_sinks else "an SMTP server and a keep-alive sink"
    return rows, [f"alert_webhook: {mails} emails and {events} CloudEvents arrived at {sinks_kind} (bench.sinks)."]
