"""Cold start of each function against a bare functions-framework hello, in fresh processes.

Two numbers per function, each the median of several runs interleaved across
the functions (so a drift in the machine's load touches every one alike):
- import: loading the function through functions-framework, as the server does before serving;
- first 200: from launching ``python -m functions_framework`` to the first 200 on ``GET /healthz``
  (interpreter start, imports, gunicorn, and building the app from the environment on that first request).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import requests

from bench.configs import (
    BARE_SOURCE,
    FUNCTIONS,
    alert_webhook_env,
    incident_report_env,
    pod_exporter_env,
    write_kubeconfig,
)
from bench.measure import FUNCTIONS as FUNCTIONS_DIR
from bench.measure import BenchError, child_env, median, run_json, seconds
from bench.report import Row
from devstack.functions import ServedFunction
from devstack.ports import free_port

GOAL = 1.5
BARE = "bare"


def _loopback(port: int | None = None) -> str:
    return f"http://127.0.0.1:{port or free_port()}"


def _configurations(directory: Path) -> dict[str, tuple[Path, dict[str, str]]]:
    """Each function's source and a valid configuration; nothing listens on the ports it names."""
    kubeconfig = write_kubeconfig(directory / "kubeconfig", _loopback())
    return {
        BARE: (BARE_SOURCE, {}),
        "alert_webhook": (FUNCTIONS_DIR / "alert_webhook" / "main.py", alert_webhook_env(free_port(), _loopback())),
        "pod_exporter": (FUNCTIONS_DIR / "pod_exporter" / "main.py", pod_exporter_env(kubeconfig, _loopback())),
        "incident_report": (
            FUNCTIONS_DIR / "incident_report" / "main.py",
            incident_report_env(kubeconfig, free_port(), _loopback()),
        ),
    }


def time_to_first_200(name: str, source: Path, env: dict[str, str]) -> float:
    served = ServedFunction(name, env, source=source, poll_interval=0.005)
    started = time.perf_counter()
    served.start(wait=60)
    elapsed = time.perf_counter() - started
    try:
        status = requests.get(f"{served.url}/healthz", timeout=5).status_code
        if status != 200:
            raise BenchError(f"{name} answered /healthz with {status}; its log:\n{served.logs()[-1500:]}")
    finally:
        served.stop()
        served.log_path.unlink(missing_ok=True)  # twenty cold starts would leave twenty logs behind
    return elapsed


def measure(runs: int = 7) -> tuple[list[Row], list[str]]:
    imports: dict[str, list[float]] = {}
    firsts: dict[str, list[float]] = {}
    loaded: dict[str, tuple[list[str], list[str]]] = {}
    with tempfile.TemporaryDirectory(prefix="whooper-bench-") as tmp:
        configurations = _configurations(Path(tmp))
        for _ in range(runs):
            for name, (source, env) in configurations.items():
                probe = run_json(["-m", "bench.cold_probe", str(source)], child_env(env), timeout=120)
                if probe["status"] != 200:
                    raise BenchError(f"{name} answered /healthz with {probe['status']} in the import probe")
                imports.setdefault(name, []).append(probe["import_s"])
                loaded[name] = (probe["loaded_at_import"], probe["loaded_after_healthz"])
                firsts.setdefault(name, []).append(time_to_first_200(name, source, env))
    bare_import, bare_first = median(imports[BARE]), median(firsts[BARE])
    rows = [
        Row(
            "cold start",
            f"bare functions-framework hello (baseline), median of {runs}",
            f"import {seconds(bare_import)}, first 200 {seconds(bare_first)}",
            "",
            "",
        )
    ]
    notes = []
    for name in FUNCTIONS:
        imported, first = median(imports[name]), median(firsts[name])
        import_ratio, first_ratio = imported / bare_import, first / bare_first
        goal = f"≤ {GOAL}× bare" + (" (no AI client loaded)" if name == "incident_report" else "")
        holds = import_ratio <= GOAL and first_ratio <= GOAL
        at_import, after_healthz = (
            [module for module in names if module not in baseline]
            for names, baseline in zip(loaded[name], loaded[BARE], strict=True)
        )
        if name == "incident_report" and "google.genai" in after_healthz:
            holds = False
        rows.append(
            Row(
                "cold start",
                name,
                f"import {seconds(imported)}, first 200 {seconds(first)}",
                f"import {seconds(bare_import)}, first 200 {seconds(bare_first)}",
                f"import {import_ratio:.2f}×, first 200 {first_ratio:.2f}×",
                goal,
                holds,
            )
        )
        notes.append(
            f"cold start of {name}: beyond the bare hello, loads {', '.join(at_import) or 'nothing of note'} "
            f"at import and {', '.join(after_healthz) or 'nothing of note'} by its first /healthz."
        )
    return rows, notes
