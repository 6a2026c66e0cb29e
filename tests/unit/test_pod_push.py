"""The pushed body and address: what push_to_gateway would send, but written family by family while it is sent."""

from __future__ import annotations

from typing import Any

from prometheus_client import generate_latest, push_to_gateway

from pod_exporter.pods import PHASES, ContainerState, PodState
from pod_exporter.push import CHUNK_BYTES, JOB, exposition, group_url
from pod_exporter.series import PodGroup, RunHealth


def cluster(pods: int) -> PodGroup:
    states = [
        PodState(
            namespace=f"team-{n % 7}",
            name=f"web-{n:05d}",
            phase=PHASES[n % len(PHASES)],
            pending_since=1_764_752_400.0 if PHASES[n % len(PHASES)] == "Pending" else None,
            containers=(
                ContainerState("app", n % 4, "CrashLoopBackOff" if n % 9 == 0 else None, None),
                ContainerState("sidecar", 0, None, "OOMKilled" if n % 11 == 0 else None),
            ),
        )
        for n in range(pods)
    ]
    return PodGroup(states, RunHealth(finished_at=1_764_752_460.0, duration_seconds=1.5, pods_listed=pods))


def test_the_streamed_body_is_the_text_push_to_gateway_sends() -> None:
    group = cluster(3_000)
    chunks = list(exposition(group.registry()))
    body = b"".join(chunks)
    assert body == generate_latest(group.registry())
    assert len(body) > 4 * CHUNK_BYTES  # large enough that the families are sent in pieces
    assert all(0 < len(chunk) <= CHUNK_BYTES for chunk in chunks)
    assert b'whooper_pod_phase{namespace="team-3",phase="' in body


def test_an_empty_cluster_still_sends_the_totals_and_health() -> None:
    body = b"".join(exposition(cluster(0).registry())).decode()
    assert "whooper_pods_total 0.0\n" in body
    assert "whooper_pod_exporter_pods_listed 0.0\n" in body


def test_the_group_url_is_the_one_push_to_gateway_puts_to() -> None:
    seen: list[dict[str, Any]] = []

    def record(**request: Any) -> Any:
        seen.append(request)
        return lambda: None

    for gateway in ("http://pushgateway.monitoring:9091", "https://pg.example:9091/", "http://pg:9091/prefix"):
        push_to_gateway(gateway, job=JOB, registry=cluster(1).registry(), grouping_key={}, handler=record)
        assert seen[-1]["method"] == "PUT"
        assert group_url(gateway) == seen[-1]["url"]
