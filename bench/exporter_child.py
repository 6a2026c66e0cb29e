"""Run in a fresh process: one full pod export, or the typed-model listing it is compared with.

``python -m bench.exporter_child export`` loads pod_exporter through
functions-framework, builds it from the environment (``KUBECONFIG``,
``PUSHGATEWAY_URL``) and times one ``POST /``: list, map, push.
``python -m bench.exporter_child typed KUBECONFIG`` times listing every pod
through ``CoreV1Api.list_pod_for_all_namespaces`` in pages of 500, keeping the
``V1Pod`` objects, as code built on the typed client does.

Each prints one JSON line with the wall time, the pods seen and the process's
peak resident memory; one process per measurement keeps the peaks apart.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

PAGE_SIZE = 500
SOURCE = Path(__file__).resolve().parent.parent / "functions" / "pod_exporter" / "main.py"


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def export() -> dict[str, Any]:
    from functions_framework import create_app

    client = create_app("handle", str(SOURCE)).test_client()  # type: ignore[no-untyped-call]
    ready = client.get("/healthz")  # builds the app from the environment, as the first request does
    if ready.status_code != 200:
        raise SystemExit(f"pod_exporter is not ready: {ready.status_code} {ready.get_data(as_text=True)}")
    before = _peak_rss_kib()
    started = time.perf_counter()
    response = client.post("/")
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"pod_exporter answered {response.status_code}: {response.get_data(as_text=True)}")
    body = response.get_json()
    return {"seconds": elapsed, "pods": body["pods"], "rss_before_kib": before, "peak_rss_kib": _peak_rss_kib()}


def typed(kubeconfig: str) -> dict[str, Any]:
    from kubernetes import client, config

    config.load_kube_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    core = client.CoreV1Api()
    before = _peak_rss_kib()
    started = time.perf_counter()
    pods: list[Any] = []
    token = None
    while True:
        page = core.list_pod_for_all_namespaces(limit=PAGE_SIZE, _continue=token, _request_timeout=120)
        pods.extend(page.items)
        token = page.metadata._continue if page.metadata is not None else None
        if not token:
            break
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "pods": len(pods), "rss_before_kib": before, "peak_rss_kib": _peak_rss_kib()}


if __name__ == "__main__":
    result = export() if sys.argv[1] == "export" else typed(sys.argv[2])
    print(json.dumps(result))
