"""An incident's name: the same for every delivery of one alert occurrence, different otherwise, always DNS-1123."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from incident_report.incidents import incident_name, label_value
from tests.incident_report_data import POD_FIRING, POD_RESOLVED, alert
from whooper_common.alertmanager import Alert

DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _alert(name: str, fingerprint: str = "3f1c9a0e5b7d2c41", starts: datetime | None = None) -> Alert:
    return Alert(
        status="firing",
        labels={"alertname": name},
        annotations={},
        starts_at=starts or datetime(2026, 12, 3, 10, tzinfo=UTC),
        ends_at=None,
        generator_url="",
        fingerprint=fingerprint,
    )


def test_firing_and_resolved_deliveries_of_one_alert_name_the_same_incident() -> None:
    assert incident_name(alert(POD_FIRING)) == incident_name(alert(POD_RESOLVED))
    assert incident_name(alert(POD_FIRING)).startswith("podcrashlooping-")


def test_a_new_occurrence_or_another_alert_gets_another_name() -> None:
    first = _alert("PodCrashLooping")
    later = _alert("PodCrashLooping", starts=first.starts_at + timedelta(hours=1))
    other = _alert("PodCrashLooping", fingerprint="0000000000000001")
    assert len({incident_name(first), incident_name(later), incident_name(other)}) == 3


def test_the_name_survives_nanosecond_starts_at_as_alertmanager_writes_it() -> None:
    nanos = alert(POD_FIRING, startsAt="2026-12-03T10:00:00.123456789Z")
    micros = alert(POD_FIRING, startsAt="2026-12-03T10:00:00.123456Z")
    assert incident_name(nanos) == incident_name(micros)


@given(st.text(max_size=300), st.text(min_size=1, max_size=64))
def test_any_alert_name_and_fingerprint_give_a_dns_1123_label(name: str, fingerprint: str) -> None:
    result = incident_name(_alert(name, fingerprint))
    assert len(result) <= 63
    assert DNS_1123_LABEL.match(result), result


@given(st.text(max_size=300))
def test_label_values_are_valid_kubernetes_label_values(value: str) -> None:
    result = label_value(value)
    assert len(result) <= 63
    assert re.fullmatch(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?", result), result
