"""Where the time goes, for a goal the table says does not hold: ``python -m bench.profile TARGET``.

- ``webhook [--alerts N] [--requests R]``: pyinstrument over R notifications of N
  alerts handled by alert_webhook in this process (through functions-framework's
  Flask app), mailing and sending events to the production-like sinks.
- ``exporter [--pods N]``: pyinstrument over one full export in its own process,
  against the Kubernetes API stand-in with N pods and a real Pushgateway.
- ``cold FUNCTION``: the imports (``python -X importtime``) that loading FUNCTION
  and answering its first ``/healthz`` adds to the bare hello, slowest first.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from bench.configs import BARE_SOURCE, alert_webhook_env, pod_exporter_env, write_kubeconfig
from bench.exporter import _server, _stand_in
from bench.measure import FUNCTIONS, Background, child_env
from bench.payloads import notification
from bench.webhook import HEADERS, _sinks_ready
from devstack.stack import start_pushgateway

IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def webhook(alerts: int, requests: int) -> None:
    from functions_framework import create_app
    from pyinstrument import Profiler

    with Background(["-m", "bench.sinks"], child_env(), "sinks") as sinks:
        smtp_port, sink_url = _sinks_ready(sinks.ready_line)
        sys.path.insert(0, str(FUNCTIONS))  # as functions-framework's command line has it, through PYTHONPATH
        with mock.patch.dict(os.environ, alert_webhook_env(smtp_port, sink_url)):
            client = create_app("handle", str(FUNCTIONS / "alert_webhook" / "main.py")).test_client()  # type: ignore[no-untyped-call]
            bodies = [notification(alerts, 10_000_000 + n) for n in range(requests + 1)]
            client.post("/", data=bodies[0], headers=HEADERS)  # builds the app
            profiler = Profiler(interval=0.0005)
            started = time.perf_counter()
            with profiler:
                for body in bodies[1:]:
                    response = client.post("/", data=body, headers=HEADERS)
                    if response.status_code != 200:
                        raise SystemExit(f"alert_webhook answered {response.status_code}: {response.get_data()!r}")
            elapsed = time.perf_counter() - started
    print(f"{requests} notification(s) of {alerts} alert(s): {elapsed / requests * 1000:.1f} ms each")
    print(profiler.output_text(unicode=True, color=False))


def exporter(pods: int) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="whooper-bench-") as tmp,
        start_pushgateway() as pushgateway,
        _stand_in(pods) as stand_in,
    ):
        kubeconfig = write_kubeconfig(Path(tmp) / "kubeconfig", _server(stand_in))
        env = child_env(pod_exporter_env(kubeconfig, pushgateway.url))
        command = [sys.executable, "-m", "pyinstrument", "--interval", "0.0005", "-m", "bench.exporter_child"]
        subprocess.run([*command, "export"], env=env, check=True)


def _imports(source: Path, env: dict[str, str]) -> dict[str, int]:
    """Cumulative import time in µs of every module loaded by the cold-start probe."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bench.cold_probe", str(source)],
        env=child_env(env),
        capture_output=True,
        text=True,
        check=True,
    )
    return {name: int(cumulative) for _self, cumulative, _indent, name in IMPORT_LINE.findall(done.stderr)}


def cold(function: str) -> None:
    from bench.cold_start import _configurations

    with tempfile.TemporaryDirectory(prefix="whooper-bench-") as tmp:
        source, env = _configurations(Path(tmp))[function]
        bare = _imports(BARE_SOURCE, {})
        extra = {name: us for name, us in _imports(source, env).items() if name not in bare}
    print(f"modules {function} imports beyond the bare hello, by cumulative import time:")
    for name, us in sorted(extra.items(), key=lambda item: -item[1])[:25]:
        print(f"{us / 1000:8.1f} ms  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    targets = parser.add_subparsers(dest="target", required=True)
    webhook_args = targets.add_parser("webhook")
    webhook_args.add_argument("--alerts", type=int, default=1)
    webhook_args.add_argument("--requests", type=int, default=200)
    targets.add_parser("exporter").add_argument("--pods", type=int, default=10_000)
    targets.add_parser("cold").add_argument("function", choices=["alert_webhook", "pod_exporter", "incident_report"])
    args = parser.parse_args()
    if args.target == "webhook":
        webhook(args.alerts, args.requests)
    elif args.target == "exporter":
        exporter(args.pods)
    else:
        cold(args.function)


if __name__ == "__main__":
    main()
