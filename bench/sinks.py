"""The alert_webhook's outbound side in its own process: a real SMTP server and a CloudEvents sink.

Run apart from the load generator so neither steals the other's interpreter
lock. Prints ``ready smtp=PORT sink=URL``; on SIGTERM prints
``received mails=N events=M`` and exits.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from devstack.receiver import Receiver
from devstack.smtp import MailCatcher


def main() -> None:
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    with MailCatcher() as mail, Receiver() as sink:
        print(f"ready smtp={mail.port} sink={sink.url}", flush=True)
        stopping.wait()
        print(f"received mails={len(mail.messages)} events={len(sink.requests)}", flush=True)


if __name__ == "__main__":
    main()
