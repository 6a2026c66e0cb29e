"""The alert_webhook's outbound side in its own process: a real SMTP server and a CloudEvents sink.

Run apart from the load generator so neither steals the other's interpreter
lock. Prints ``ready smtp=PORT sink=URL``; on SIGTERM prints
``received mails=N events=M`` and exits.

Both ends answer the way production servers do, so their own cost does not
count against the function: the SMTP server (aiosmtpd, as devstack's
MailCatcher) accepts each message without parsing it, as an MTA queues it, and
the sink keeps connections alive (HTTP/1.1), as the Knative Broker does.
devstack's MailCatcher parses every message before it answers and its
Receiver closes each connection; ``--devstack`` uses them instead.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from devstack.ports import free_port
from devstack.receiver import Receiver
from devstack.smtp import MailCatcher


class Tally:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mails = self.events = 0

    def mail(self) -> None:
        with self._lock:
            self.mails += 1

    def event(self) -> None:
        with self._lock:
            self.events += 1


class _QueueingHandler:
    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    async def handle_DATA(self, _server: SMTP, _session: Session, _envelope: Envelope) -> str:
        self.tally.mail()
        return "250 Message queued"


class _KeepAliveSink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tally: Tally

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.tally.event()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextlib.contextmanager
def production_like(tally: Tally) -> Iterator[tuple[int, str]]:
    smtp = Controller(_QueueingHandler(tally), hostname="127.0.0.1", port=free_port())
    handler = type("Sink", (_KeepAliveSink,), {"tally": tally})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    server.daemon_threads = True
    smtp.start()
    threading.Thread(target=server.serve_forever, name="sink", daemon=True).start()
    try:
        yield smtp.port, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        smtp.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devstack", action="store_true", help="devstack's MailCatcher and Receiver")
    args = parser.parse_args()
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    if args.devstack:
        with MailCatcher() as mail, Receiver() as receiver:
            print(f"ready smtp={mail.port} sink={receiver.url}", flush=True)
            stopping.wait()
            print(f"received mails={len(mail.messages)} events={len(receiver.requests)}", flush=True)
        return
    tally = Tally()
    with production_like(tally) as (smtp_port, sink_url):
        print(f"ready smtp={smtp_port} sink={sink_url}", flush=True)
        stopping.wait()
    print(f"received mails={tally.mails} events={tally.events}", flush=True)


if __name__ == "__main__":
    main()
