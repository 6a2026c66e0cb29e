"""incident_report's context: a pod's events and the end of its log, bounded and redacted, read from the stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes import client

from devstack.kube_api import KubeApiServer, make_event, make_pod
from incident_report.context import ContextReader, Limits
from incident_report.kubeapi import KubeUnavailable
from tests.incident_report_data import POD_FIRING, alert

NAMESPACE, POD = "shop", "checkout-7d9f8b6c5-x2x9z"


@pytest.fixture
def kube() -> Iterator[KubeApiServer]:
    with KubeApiServer() as server:
        yield server


@pytest.fixture
def core(kube: KubeApiServer) -> Iterator[client.CoreV1Api]:
    api = kube.api_client()
    yield client.CoreV1Api(api)
    api.close()


def reader(core: client.CoreV1Api, **limits: float) -> ContextReader:
    return ContextReader(core, Limits(**limits))  # type: ignore[arg-type]


def test_the_log_is_the_last_lines_within_the_byte_bound(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.add_pod(make_pod(POD, NAMESPACE, containers=1))
    kube.set_logs(NAMESPACE, POD, "".join(f"line {i:03d} " + "x" * 40 + "\n" for i in range(200)))

    by_lines = reader(core, log_lines=5, log_bytes=8192).for_alert(alert(POD_FIRING))
    by_bytes = reader(core, log_lines=100, log_bytes=256).for_alert(alert(POD_FIRING))

    assert [line[:8] for line in by_lines.log_lines] == [f"line {i:03d}" for i in range(195, 200)]
    assert by_lines.log_truncated is False  # the server sent exactly the lines asked for
    assert sum(len(line) + 1 for line in by_bytes.log_lines) <= 256
    assert by_bytes.log_lines[-1].startswith("line 199")
    assert by_bytes.log_truncated is True


def test_a_crashed_container_is_read_from_its_previous_run(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.add_pod(make_pod(POD, NAMESPACE, waiting_reason="CrashLoopBackOff", restarts=3))
    kube.set_logs(NAMESPACE, POD, "panic: nil map\n", "checkout", previous=True)
    context = reader(core).for_alert(alert(POD_FIRING))
    assert (context.container, context.log_from_previous, context.log_lines) == ("checkout", True, ("panic: nil map",))


def test_secrets_in_the_log_are_redacted_across_lines(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.add_pod(make_pod(POD, NAMESPACE, containers=1))
    key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    text = f"boot\n{key}\ntoken=abc123\n"
    kube.set_logs(NAMESPACE, POD, text)
    lines = reader(core).for_alert(alert(POD_FIRING)).log_lines
    assert lines == ("boot", "[REDACTED]", "token=[REDACTED]")


def test_events_are_the_pods_own_most_recent_ones(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.add_pod(make_pod(POD, NAMESPACE))
    now = datetime.now(UTC).replace(microsecond=0)
    for minute in range(6):
        kube.add_event(make_event(NAMESPACE, POD, f"Reason{minute}", "m", last_seen=now - timedelta(minutes=minute)))
    kube.add_event(make_event(NAMESPACE, "other-pod-1", "NotMine", "m", last_seen=now))
    events = reader(core, events=3).for_alert(alert(POD_FIRING)).events
    assert [e.reason for e in events] == ["Reason2", "Reason1", "Reason0"]


def test_what_cannot_be_read_is_noted_not_fatal(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.add_pod(make_pod(POD, NAMESPACE, "Pending", waiting_reason="ImagePullBackOff"))
    kube.fail(403, times=1, path_contains="/events")
    context = reader(core).for_alert(alert(POD_FIRING))
    assert context.log_lines == ()
    assert any(note.startswith("events not readable:") for note in context.notes)
    assert any("is waiting to start" in note for note in context.notes)


def test_an_unreachable_api_is_reported_as_unavailable(kube: KubeApiServer, core: client.CoreV1Api) -> None:
    kube.add_pod(make_pod(POD, NAMESPACE))
    kube.fail(503, times=8, path_contains="/pods/")
    with pytest.raises(KubeUnavailable, match="read pod shop/checkout-7d9f8b6c5-x2x9z"):
        reader(core).for_alert(alert(POD_FIRING))
