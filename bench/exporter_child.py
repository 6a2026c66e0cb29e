"""Run in a fresh process: one full pod export, or the typed-model listing it is compared with.

``python -m bench.exporter_child export`` loads pod_exporter through
functions-framework, builds it from the environment (``KUBECONFIG``,
``PUSHGATEWAY_URL``) and times one ``POST /``: list, map, push.
``python -m bench.exporter_child typed KUBECONFIG`` times listing every pod
through ``CoreV1Api.list_pod_for_all_namespaces`` in pages of 500, keeping the
``V1Pod`` objects, as code built on the typed client does.
``python -m bench.exporter_child fetch URL TOKEN`` only fetches the same pages,
decoding nothing but the continue token: the floor the stand-in itself sets.

Each prints one JSON line with the wall and CPU time, the pods seen and the
process's peak resident memory; one process per measurement keeps the peaks apart.
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PAGE_SIZE = 500
SOURCE = Path(__file__).resolve().parent.parent / "functions" / "pod_exporter" / "main.py"


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _timed(work: Callable[[], int]) -> dict[str, Any]:
    """Wall and CPU time of ``work`` (which returns the pods it saw) and the peak memory before and after."""
    before = _peak_rss_kib()
    started, cpu_started = time.perf_counter(), time.process_time()
    pods = work()
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,
        "pods": pods,
        "rss_before_kib": before,
        "peak_rss_kib": _peak_rss_kib(),
    }


def export() -> dict[str, Any]:
    from functions_framework import create_app

    client = create_app("handle", str(SOURCE)).test_client()  # type: ignore[no-untyped-call]
    ready = client.get("/healthz")  # builds the app from the environment, as the first request does
    if ready.status_code != 200:
        raise SystemExit(f"pod_exporter is not ready: {ready.status_code} {ready.get_data(as_text=True)}")
    # The function's first run imports the kubernetes client and its config loaders (about a second); every later
    # tick finds them loaded. Loaded here, as for the typed listing, so both are timed in that steady state. Only
    # what the function itself loads: its typed pod API (CoreV1Api, about 22 MB) would count against the export.
    import kubernetes.client.api_client
    import kubernetes.config  # noqa: F401

    def run() -> int:
        response = client.post("/")
        if response.status_code != 200:
            raise SystemExit(f"pod_exporter answered {response.status_code}: {response.get_data(as_text=True)}")
        pods: int = response.get_json()["pods"]
        return pods

    return _timed(run)


def typed(kubeconfig: str) -> dict[str, Any]:
    from kubernetes import client, config

    config.load_kube_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    core = client.CoreV1Api()

    def run() -> int:
        pods: list[Any] = []
        token = None
        while True:
            page = core.list_pod_for_all_namespaces(limit=PAGE_SIZE, _continue=token, _request_timeout=120)
            pods.extend(page.items)
            token = page.metadata._continue if page.metadata is not None else None
            if not token:
                return len(pods)

    return _timed(run)


def fetch(server: str, token: str) -> dict[str, Any]:
    import urllib3

    http = urllib3.PoolManager()
    headers = {"Authorization": f"Bearer {token}"}
    # The list metadata comes first in the stand-in's answer; items are counted by their status phase, never parsed.
    continue_token = re.compile(rb'"continue":\s*"([^"]+)"')

    def run() -> int:
        pods = 0
        fields: dict[str, Any] = {"limit": PAGE_SIZE}
        while True:
            response = http.request("GET", f"{server}/api/v1/pods", fields=fields, headers=headers, timeout=120)
            if response.status != 200:
                raise SystemExit(f"the stand-in answered {response.status}")
            pods += response.data.count(b'"phase":')
            found = continue_token.search(response.data[:2000])
            if not found:
                return pods
            fields = {"limit": PAGE_SIZE, "continue": found.group(1).decode()}

    return _timed(run)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    modes: dict[str, Callable[..., dict[str, Any]]] = {"export": export, "typed": typed, "fetch": fetch}
    print(json.dumps(modes[mode](*args)))
