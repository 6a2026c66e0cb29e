"""``python -m bench.run [--only NAME ...]``: every measurement, one table, written to bench/results.md.

A measurement that cannot be taken (a part missing or failing) becomes a row
saying so, and the run goes on: the table always shows everything that was tried.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
import time
import traceback
from collections.abc import Callable

from bench import cold_start, exporter, pipeline, webhook
from bench.report import Row, write

Measurement = Callable[[], tuple[list[Row], list[str]]]

MEASUREMENTS: dict[str, tuple[str, Measurement]] = {
    "exporter": ("pod_exporter", exporter.measure),
    "cold-start": ("cold start", cold_start.measure),
    "pipeline": ("alert pipeline", pipeline.measure),
    "webhook": ("alert_webhook", webhook.measure),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=sorted(MEASUREMENTS), help="run only these measurements")
    parser.add_argument("--no-write", action="store_true", help="print the table without writing results.md")
    parser.add_argument(
        "--devstack-sinks",
        action="store_true",
        help="alert_webhook mails to devstack's MailCatcher and posts to its Receiver (both add their own cost)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rows: list[Row] = []
    notes: list[str] = []
    failed = False
    for key, (title, measure) in MEASUREMENTS.items():
        if args.only and key not in args.only:
            continue
        started = time.monotonic()
        print(f"bench: {title} ...", file=sys.stderr, flush=True)
        if key == "webhook" and args.devstack_sinks:
            measure = functools.partial(webhook.measure, devstack_sinks=True)
        try:
            measured, said = measure()
        except Exception as error:  # one broken measurement must not hide the others
            traceback.print_exc()
            failed = True
            measured, said = [Row(title, "not measured", f"failed: {error}".splitlines()[0][:200], "", "")], []
        rows += measured
        notes += said
        print(f"bench: {title} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    if args.no_write:
        from bench.report import render

        print(render(rows, notes))
    else:
        write(rows, notes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
