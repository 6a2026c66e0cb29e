"""The command line: serve generated pods until killed."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from devstack.kube_api.events import pod_events
from devstack.kube_api.generate import gc_paused, generate_pods
from devstack.kube_api.server import DEFAULT_TOKEN, KubeApiServer
from devstack.standin import JsonObject


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve generated pods from a Kubernetes API stand-in until killed.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--pods", type=int, default=1000, help="number of generated pods")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="bearer token clients must send")
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--no-managed-fields", action="store_true", help="leave managedFields out (smaller pods)")
    parser.add_argument("--kubeconfig", type=Path, help="also write a kubeconfig here")
    args = parser.parse_args(argv)

    server = KubeApiServer(args.token, port=args.port)
    with gc_paused():
        _populate(
            server, generate_pods(args.pods, namespaces=args.namespaces, with_managed_fields=not args.no_managed_fields)
        )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with server:
        if args.kubeconfig:
            server.write_kubeconfig(args.kubeconfig)
        print(f"ready {server.url}", flush=True)
        stop.wait()
    return 0


def _populate(server: KubeApiServer, pods: Iterable[JsonObject]) -> None:
    """Pods, the events of those in trouble, and logs for every app container that ran."""
    samples: dict[str, str] = {}  # one log text per app, shared by its pods
    for pod in pods:
        server.add_pod(pod)
        if pod["status"]["phase"] != "Running" or _in_trouble(pod):
            for event in pod_events(pod):
                server.add_event(event)
        if pod["status"].get("containerStatuses"):
            app = pod["spec"]["containers"][0]["name"]
            text = samples.setdefault(app, _sample_log(app))
            server.set_logs(pod["metadata"]["namespace"], pod["metadata"]["name"], text, app)


def _in_trouble(pod: Mapping[str, Any]) -> bool:
    return any(not status.get("ready") for status in pod["status"].get("containerStatuses", []))


def _sample_log(app: str) -> str:
    return "".join(
        f'{{"level":"{"error" if i % 7 == 6 else "info"}","msg":"{app} handled request","request":{i}}}\n'
        for i in range(20)
    )
