"""Sending mail: SMTP by default, or the HTTP email service when ``EMAIL_APP_URL`` is set.

Both functions mail through this module. A send either succeeds or raises
:class:`MailError`, which callers answer with 503 so the sender retries and
nothing is lost. Subjects and addresses are forced onto one line, so text that
came from labels can never add a mail header.
"""

from __future__ import annotations

import email.policy
import functools
import logging
import os
import re
import smtplib
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

from whooper_common.config import ConfigError, Env, get_bool, get_float, get_int, get_list, get_str, require_str
from whooper_common.metrics import LATENCY_BUCKETS, NAMESPACE
from whooper_common.smtp_connections import SmtpConnections

if TYPE_CHECKING:
    import requests

log = logging.getLogger("whooper.mailer")

DEFAULT_TIMEOUT_SECONDS = 10.0  # well under Alertmanager's webhook timeout, so a slow server gives 503, not a hang
MAX_SUBJECT_LENGTH = 200
# The ``status`` of whooper_emails_sent_total.
SUCCESS, FAILURE = "success", "failure"
SEND_STATUSES = (SUCCESS, FAILURE)


class _HeaderClasses(HeaderRegistry):
    """email's header registry, building each header's class once.

    The stock registry makes a new class (``type(...)``) every time it looks a
    header name up, twice for each header set on a message: about a third of
    the cost of building one. The classes it makes are the same every time.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._classes.get(key)
        if made is None:
            made = self._classes[key] = super().__getitem__(name)
        return made


_HEADER_POLICY = email.policy.default.clone(max_line_length=998, header_factory=_HeaderClasses())
_CONTROL = re.compile("[\x00-\x1f\x7f]")  # CR, LF and every other control character (a 1,000-alert email has 10,000)


class MailError(Exception):
    """Mail could not be sent now; retrying later may work. The message holds no secrets."""


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str
    kind: str  # the ``type`` label of whooper_emails_sent_total: alert, incident_report, incident_resolved


def one_line(value: str, limit: int = MAX_SUBJECT_LENGTH) -> str:
    """Collapse CR, LF and other control characters so a value cannot start a new header."""
    cleaned = " ".join(_CONTROL.sub(" ", value).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


class Transport(Protocol):
    def deliver(self, email: Email, sender: str, recipients: Sequence[str]) -> None: ...


@functools.lru_cache(maxsize=64)
def _parsed(name: str, value: str) -> BaseHeader:
    """A header parsed once: sender, recipients and type are the same for most emails, and parsing address
    headers is the costliest part of building a message. A parsed header is set as it is (no parsing again)."""
    return _HEADER_POLICY.header_factory(name, value)  # type: ignore[no-any-return]


def build_message(email: Email, sender: str, recipients: Sequence[str]) -> EmailMessage:
    # No folding below RFC 5322's 998-character limit: Python folds a subject that starts with "[" onto a
    # continuation line, which readers then show with a leading space. Subjects are capped far below it.
    message = EmailMessage(policy=_HEADER_POLICY)
    message["Subject"] = one_line(email.subject)
    message["From"] = _parsed("From", one_line(sender, 320))
    message["To"] = _parsed("To", ", ".join(one_line(r, 320) for r in recipients))
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="whooper.dev")
    message["X-Whooper-Type"] = _parsed("X-Whooper-Type", one_line(email.kind, 64))
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    implicit_tls: bool = False
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    ca_file: str = ""
    # Kept sessions are reused between emails (see smtp_connections); not part of the configuration's equality.
    connections: SmtpConnections = field(default_factory=SmtpConnections, repr=False, compare=False)

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file or None)

    def _open(self) -> smtplib.SMTP:
        client: smtplib.SMTP
        if self.implicit_tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._tls())
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls and not self.implicit_tls:
                client.starttls(context=self._tls())
            if self.username:
                client.login(self.username, self.password)
        except BaseException:
            client.close()
            raise
        return client

    def deliver(self, email: Email, sender: str, recipients: Sequence[str]) -> None:
        message = build_message(email, sender, recipients)
        client = None
        try:
            client = self.connections.take() or self._open()
            client.send_message(message, from_addr=sender, to_addrs=list(recipients))
        except (OSError, smtplib.SMTPException) as error:
            # Whatever failed, the session is not reused. The error text never includes the password; smtplib
            # does not echo AUTH data.
            if client is not None:
                client.close()
            raise MailError(f"SMTP {self.host}:{self.port} failed: {type(error).__name__}: {error}") from None
        # Once send_message returned, the server has the message: nothing after this point may raise MailError,
        # or the caller's retry would send the email a second time.
        self.connections.give(client)


@dataclass(frozen=True)
class HttpEmailTransport:
    """The original design's email service: ``POST EMAIL_APP_URL`` with a JSON message, any 2xx is success."""

    url: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @functools.cached_property
    def session(self) -> requests.Session:
        # Imported here: only this transport needs requests (and charset_normalizer), 50-100 ms of a cold start.
        import requests

        return requests.Session()

    def deliver(self, email: Email, sender: str, recipients: Sequence[str]) -> None:
        body = {
            "from": one_line(sender, 320),
            "to": [one_line(r, 320) for r in recipients],
            "subject": one_line(email.subject),
            "text": email.text,
            "html": email.html,
            "type": email.kind,
        }
        import requests

        try:
            response = self.session.post(self.url, json=body, timeout=self.timeout)
        except requests.RequestException as error:
            raise MailError(f"email service {self.url} unreachable: {type(error).__name__}") from None
        if not response.ok:
            raise MailError(f"email service {self.url} answered {response.status_code}")


class Mailer:
    """Sends :class:`Email` to the configured recipients through a transport, and measures it."""

    def __init__(
        self, transport: Transport, sender: str, recipients: Sequence[str], registry: CollectorRegistry
    ) -> None:
        self.transport = transport
        self.sender = sender
        self.recipients = tuple(recipients)
        self._sent = Counter(
            "emails_sent",
            "Emails handed to the mail server or service, by type and status (success, failure).",
            ["type", "status"],
            namespace=NAMESPACE,
            registry=registry,
        )
        self._latency = Histogram(
            "email_api_latency_seconds",
            "Time to hand one email to the mail server or service.",
            namespace=NAMESPACE,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )

    def send(self, email: Email) -> None:
        started = time.perf_counter()
        try:
            self.transport.deliver(email, self.sender, self.recipients)
        except MailError as error:
            self._sent.labels(email.kind, FAILURE).inc()
            log.warning("email not sent: %s", error, extra={"email_type": email.kind})
            raise
        finally:
            self._latency.observe(time.perf_counter() - started)
        self._sent.labels(email.kind, SUCCESS).inc()


def _check_address(value: str, variable: str) -> str:
    try:
        Address(addr_spec=value.split("<")[-1].rstrip(">").strip())
    except (ValueError, IndexError):
        raise ConfigError(f"{variable} contains {value!r}, which is not an email address") from None
    return value


def recipients_from_env(env: Env) -> list[str]:
    recipients = get_list(env, "ALERT_EMAIL") or get_list(env, "DEFAULT_EMAIL_RECIPIENT")
    if not recipients:
        raise ConfigError("no recipients: set ALERT_EMAIL (comma-separated) or DEFAULT_EMAIL_RECIPIENT")
    variable = "ALERT_EMAIL" if get_list(env, "ALERT_EMAIL") else "DEFAULT_EMAIL_RECIPIENT"
    return [_check_address(r, variable) for r in recipients]


def transport_from_env(env: Env) -> Transport:
    timeout = get_float(env, "EMAIL_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS, minimum=0.1)
    app_url = get_str(env, "EMAIL_APP_URL")
    if app_url:
        if not app_url.startswith(("http://", "https://")):
            raise ConfigError(f"EMAIL_APP_URL={app_url!r} must be an http:// or https:// URL")
        return HttpEmailTransport(app_url, timeout)
    ssl_on = get_bool(env, "SMTP_SSL")
    starttls = get_bool(env, "SMTP_STARTTLS")
    if ssl_on and starttls:
        raise ConfigError("SMTP_SSL and SMTP_STARTTLS are both true: choose implicit TLS (465) or STARTTLS (587)")
    username = get_str(env, "SMTP_USERNAME")
    password = env.get("SMTP_PASSWORD", "")
    if username and not password:
        raise ConfigError("SMTP_USERNAME is set but SMTP_PASSWORD is empty")
    ca_file = get_str(env, "SMTP_CA_FILE")
    if ca_file and not os.path.isfile(ca_file):
        # Caught here, not at the first send: otherwise every alert would get a retryable 503 for a config mistake.
        raise ConfigError(f"SMTP_CA_FILE={ca_file!r} is not a file: point it at the CA bundle (PEM)")
    return SmtpTransport(
        host=require_str(env, "SMTP_HOST", "set the mail server's host name, or EMAIL_APP_URL for the email service"),
        port=get_int(env, "SMTP_PORT", 465 if ssl_on else 587 if starttls else 25, minimum=1),
        username=username,
        password=password,
        starttls=starttls,
        implicit_tls=ssl_on,
        timeout=timeout,
        ca_file=ca_file,
    )


def mailer_from_env(env: Env, registry: CollectorRegistry) -> Mailer:
    sender = _check_address(get_str(env, "EMAIL_FROM", "Whooper Alerts <alerts@whooper.local>"), "EMAIL_FROM")
    return Mailer(transport_from_env(env), sender, recipients_from_env(env), registry)
