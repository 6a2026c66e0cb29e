"""pod_exporter at cluster scale against listing the same pods through the kubernetes client's typed models.

The Kubernetes API stand-in serves N realistic pods from its own process; each
export and each typed listing runs in a fresh process of its own (see
``exporter_child``), so its peak memory is its own. The export pushes to a
real Pushgateway in a container.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.configs import KUBE_TOKEN, pod_exporter_env, write_kubeconfig
from bench.measure import Background, BenchError, child_env, megabytes, run_json, seconds
from bench.report import Row
from devstack.ports import free_port
from devstack.stack import Service, start_pushgateway

SIZES = (1_000, 10_000, 50_000)
TYPED_SIZES = (1_000, 10_000)  # the typed listing of 50,000 pods alone would take minutes
SPEED_GOAL = 10.0  # times faster than the typed listing, at 10,000 pods
MEMORY_GOAL_KIB = 150 * 1024  # peak resident memory of the export at 50,000 pods
LINEARITY_GOAL = 1.5  # time per pod at 50,000 within this factor of the time per pod at 10,000


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_kib: int
    rss_before_kib: int

    @staticmethod
    def of(result: dict[str, Any], pods: int, what: str) -> Measured:
        if result["pods"] != pods:
            raise BenchError(f"{what} saw {result['pods']} pods, the stand-in serves {pods}")
        return Measured(result["seconds"], result["peak_rss_kib"], result["rss_before_kib"])

    def __str__(self) -> str:
        return f"{seconds(self.seconds)}, peak {megabytes(self.peak_rss_kib)}"


def _stand_in(pods: int) -> Background:
    port = free_port()
    args = ["-m", "devstack.kube_api", "--port", str(port), "--pods", str(pods), "--token", KUBE_TOKEN]
    return Background(args, child_env(), f"kube_api with {pods} pods").start(timeout=300)


def _server(stand_in: Background) -> str:
    match = re.search(r"https?://\S+", stand_in.ready_line)
    if not match:
        raise BenchError(f"the Kubernetes API stand-in said {stand_in.ready_line!r}, not its URL")
    return match.group(0)


def _measure_size(pods: int, pushgateway: Service, directory: Path) -> tuple[Measured, Measured | None]:
    with _stand_in(pods) as stand_in:
        kubeconfig = write_kubeconfig(directory / f"kubeconfig-{pods}", _server(stand_in))
        env = child_env(pod_exporter_env(kubeconfig, pushgateway.url))
        exported = Measured.of(run_json(["-m", "bench.exporter_child", "export"], env, 600), pods, "pod_exporter")
        typed = None
        if pods in TYPED_SIZES:
            args = ["-m", "bench.exporter_child", "typed", str(kubeconfig)]
            typed = Measured.of(run_json(args, env, 600), pods, "the typed listing")
    return exported, typed


def measure() -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    results: dict[int, tuple[Measured, Measured | None]] = {}
    with tempfile.TemporaryDirectory(prefix="whooper-bench-") as tmp, start_pushgateway() as pushgateway:
        for pods in SIZES:
            results[pods] = _measure_size(pods, pushgateway, Path(tmp))
    for pods, (exported, typed) in results.items():
        goal, holds, ratio = "", None, ""
        if typed is not None:
            speedup = typed.seconds / exported.seconds
            ratio = f"{speedup:.1f}× faster, {typed.peak_rss_kib / exported.peak_rss_kib:.1f}× less memory"
        if pods == 10_000 and typed is not None:
            goal, holds = f"≥ {SPEED_GOAL:.0f}× faster", typed.seconds / exported.seconds >= SPEED_GOAL
        if pods == max(SIZES):
            goal, holds = f"peak ≤ {megabytes(MEMORY_GOAL_KIB)}", exported.peak_rss_kib <= MEMORY_GOAL_KIB
        rows.append(
            Row(
                "pod_exporter full export (list, map, push)",
                f"{pods:,} pods",
                str(exported),
                f"typed list: {typed}" if typed else "typed list: not measured (minutes at this size)",
                ratio,
                goal,
                holds,
            )
        )
    small, large = min(SIZES), max(SIZES)
    per_pod = {pods: exported.seconds / pods for pods, (exported, _) in results.items()}
    growth = per_pod[large] / per_pod[10_000]
    rows.append(
        Row(
            "pod_exporter full export (list, map, push)",
            "cost per pod",
            ", ".join(f"{per_pod[p] * 1e6:.0f} µs at {p:,}" for p in SIZES),
            "",
            f"{growth:.2f}× per pod from 10,000 to {large:,}",
            f"linear: ≤ {LINEARITY_GOAL}×",
            growth <= LINEARITY_GOAL,
        )
    )
    notes = [
        f"pod_exporter: resident memory after imports and before the export: "
        f"{megabytes(results[small][0].rss_before_kib)}; the peak includes it. The typed listing keeps every V1Pod, "
        "as code built on the typed client does.",
    ]
    return rows, notes
