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
from devstack.stack import Service, start_pushgateway

SIZES = (1_000, 10_000, 50_000)
TYPED_SIZES = (1_000, 10_000)  # the typed listing of 50,000 pods alone would take minutes
SPEED_GOAL = 10.0  # times faster than the typed listing, at 10,000 pods
MEMORY_GOAL_KIB = 150 * 1024  # peak resident memory of the export at 50,000 pods
LINEARITY_GOAL = 1.5  # CPU per pod at 50,000 within this factor of the CPU per pod at 10,000


@dataclass(frozen=True)
class Measured:
    seconds: float
    cpu_seconds: float
    peak_rss_kib: int
    rss_before_kib: int

    @staticmethod
    def of(result: dict[str, Any], pods: int, what: str) -> Measured:
        if result["pods"] != pods:
            raise BenchError(f"{what} saw {result['pods']} pods, the stand-in serves {pods}")
        return Measured(result["seconds"], result["cpu_seconds"], result["peak_rss_kib"], result["rss_before_kib"])

    def __str__(self) -> str:
        return f"CPU {seconds(self.cpu_seconds)}, wall {seconds(self.seconds)}, peak {megabytes(self.peak_rss_kib)}"


def _stand_in(pods: int) -> Background:
    # Port 0: the stand-in binds a free port itself and says which in its ready line.
    args = ["-m", "devstack.kube_api", "--port", "0", "--pods", str(pods), "--token", KUBE_TOKEN]
    return Background(args, child_env(), f"kube_api with {pods} pods").start(timeout=300)


def _server(stand_in: Background) -> str:
    match = re.search(r"https?://\S+", stand_in.ready_line)
    if not match:
        raise BenchError(f"the Kubernetes API stand-in said {stand_in.ready_line!r}, not its URL")
    return match.group(0)


@dataclass(frozen=True)
class AtSize:
    exported: Measured
    typed: Measured | None
    floor: Measured  # fetching the pages without decoding them: what the stand-in itself costs


def _child(mode: str, *args: str, env: dict[str, str], pods: int) -> Measured:
    return Measured.of(run_json(["-m", "bench.exporter_child", mode, *args], env, 600), pods, f"the {mode} run")


def _measure_size(pods: int, pushgateway: Service, directory: Path) -> AtSize:
    with _stand_in(pods) as stand_in:
        server = _server(stand_in)
        kubeconfig = write_kubeconfig(directory / f"kubeconfig-{pods}", server)
        env = child_env(pod_exporter_env(kubeconfig, pushgateway.url))
        floor = _child("fetch", server, KUBE_TOKEN, env=env, pods=pods)
        exported = _child("export", env=env, pods=pods)
        typed = _child("typed", str(kubeconfig), env=env, pods=pods) if pods in TYPED_SIZES else None
    return AtSize(exported, typed, floor)


def _ratio(export: Measured, typed: Measured) -> str:
    return (
        f"{typed.cpu_seconds / export.cpu_seconds:.1f}× less CPU ({typed.seconds / export.seconds:.1f}× wall), "
        f"{typed.peak_rss_kib / export.peak_rss_kib:.1f}× less memory"
    )


def _growth(results: dict[int, AtSize], pods: int) -> str:
    """How the export's peak memory grows with the cluster beyond 10,000 pods (bounded by the page: about 0)."""
    grown = results[pods].exported.peak_rss_kib - results[10_000].exported.peak_rss_kib
    return f"peak +{megabytes(grown * 10_000 / (pods - 10_000))} per 10,000 pods beyond 10,000"


def measure() -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    results: dict[int, AtSize] = {}
    with tempfile.TemporaryDirectory(prefix="whooper-bench-") as tmp, start_pushgateway() as pushgateway:
        for pods in SIZES:
            results[pods] = _measure_size(pods, pushgateway, Path(tmp))
    what = "pod_exporter full export (list, map, push)"
    for pods, at_size in results.items():
        exported, typed = at_size.exported, at_size.typed
        goal, holds = "", None
        if pods == 10_000 and typed is not None:
            goal, holds = f"≥ {SPEED_GOAL:.0f}× faster", typed.cpu_seconds / exported.cpu_seconds >= SPEED_GOAL
        if pods == max(SIZES):
            goal, holds = f"peak ≤ {megabytes(MEMORY_GOAL_KIB)}", exported.peak_rss_kib <= MEMORY_GOAL_KIB
        baseline = f"typed list: {typed}" if typed else "typed list: not measured (minutes at this size)"
        ratio = _ratio(exported, typed) if typed else _growth(results, pods)
        rows.append(Row(what, f"{pods:,} pods", str(exported), baseline, ratio, goal, holds))
    large = max(SIZES)
    per_pod = {pods: at_size.exported.cpu_seconds / pods for pods, at_size in results.items()}
    growth = per_pod[large] / per_pod[10_000]
    rows.append(
        Row(
            what,
            "CPU per pod",
            ", ".join(f"{per_pod[p] * 1e6:.0f} µs at {p:,}" for p in SIZES),
            "",
            f"{growth:.2f}× per pod from 10,000 to {large:,}",
            f"linear: ≤ {LINEARITY_GOAL}×",
            growth <= LINEARITY_GOAL,
        )
    )
    notes = [
        "pod_exporter: speed is judged on the CPU time of each process, because the wall time also holds the "
        "stand-in's serving and whatever else the shared machine runs; both are printed. The floor (fetching the "
        "same pages without decoding them) took "
        + ", ".join(f"{seconds(r.floor.seconds)} at {p:,} pods" for p, r in results.items())
        + ".",
        f"pod_exporter: resident memory after imports, before the export: "
        f"{megabytes(results[min(SIZES)].exported.rss_before_kib)}; the peak includes it. The typed listing keeps "
        "every V1Pod, as code built on the typed client does.",
    ]
    return rows, notes
