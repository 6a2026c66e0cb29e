"""A real SMTP server (aiosmtpd) on the loopback that keeps every message it accepts.

It can be stopped and started again on the same port, so a test can take mail
down for a while and bring it back.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from devstack.ports import free_port


@dataclass(frozen=True)
class ReceivedMail:
    """One accepted message: the SMTP envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, content_type: str) -> str:
        """The decoded body part of that type (``text/plain`` or ``text/html``)."""
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                content: str = part.get_content()
                return content
        raise KeyError(f"message {self.subject!r} has no {content_type} part")


class _Handler:
    def __init__(self, sink: MailCatcher) -> None:
        self._sink = sink

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._sink._accept(
            ReceivedMail(str(envelope.mail_from), tuple(str(r) for r in envelope.rcpt_tos), message, raw)
        )
        return "250 Message accepted for delivery"


class MailCatcher:
    """SMTP server capturing mail; extra keyword arguments go to aiosmtpd's Controller (TLS, auth)."""

    def __init__(self, port: int | None = None, **controller_kwargs: Any) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._kwargs = controller_kwargs
        self._controller: Controller | None = None
        self._lock = threading.Condition()
        self._messages: list[ReceivedMail] = []

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def _accept(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._messages.append(mail)
            self._lock.notify_all()

    def start(self) -> MailCatcher:
        if self._controller is None:
            self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **self._kwargs)
            self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Block until at least ``count`` messages arrived; raise TimeoutError naming how many did."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"expected {count} message(s) within {timeout} s, got {len(self._messages)}")
                self._lock.wait(remaining)
            return list(self._messages)

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
