"""The shared mailer's transports against real servers: aiosmtpd (plain, STARTTLS, implicit TLS, auth) and HTTP."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import CollectorRegistry

from devstack.ports import free_port
from devstack.receiver import Receiver
from devstack.smtp import MailCatcher
from whooper_common.mailer import Email, HttpEmailTransport, Mailer, MailError, SmtpTransport
from whooper_common.metrics import new_registry
from whooper_common.smtp_connections import SmtpConnections

EMAIL = Email("[FIRING:1] PodDown (critical)", "plain body", "<p>html body</p>", "alert")
SENDER = "Whooper Alerts <alerts@whooper.local>"
TO = ["oncall@example.com", "lead@example.com"]
USER, PASSWORD = "whooper", "s3cret-password"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made for this run; the client trusts it through SMTP_CA_FILE."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _authenticator(
    _server: SMTP, _session: Session, _envelope: Envelope, mechanism: str, auth_data: object
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., MailCatcher]]:
    started: list[MailCatcher] = []

    def start(**kwargs: object) -> MailCatcher:
        started.append(MailCatcher(**kwargs).start())
        return started[-1]

    yield start
    for catcher in started:
        catcher.stop()


def _mailer(transport: SmtpTransport | HttpEmailTransport) -> tuple[Mailer, CollectorRegistry]:
    registry = new_registry()
    return Mailer(transport, SENDER, TO, registry), registry


def _sent(registry: CollectorRegistry, status: str) -> float:
    return registry.get_sample_value("whooper_emails_sent_total", {"type": "alert", "status": status}) or 0.0


def _assert_delivered(catcher: MailCatcher) -> None:
    (mail,) = catcher.wait_for(1)
    assert mail.subject == EMAIL.subject
    assert mail.rcpt_tos == tuple(TO)
    assert mail.mail_from == "alerts@whooper.local"
    assert mail.message["From"] == SENDER
    assert mail.part("text/plain").strip() == "plain body"
    assert mail.part("text/html").strip() == "<p>html body</p>"


def test_plain_smtp_delivers_both_parts_to_every_recipient(smtp_server: Callable[..., MailCatcher]) -> None:
    catcher = smtp_server()
    mailer, registry = _mailer(SmtpTransport(catcher.host, catcher.port))
    mailer.send(EMAIL)
    _assert_delivered(catcher)
    assert _sent(registry, "success") == 1
    assert registry.get_sample_value("whooper_email_api_latency_seconds_count") == 1


def test_starttls_with_auth_trusting_the_ca_file(
    smtp_server: Callable[..., MailCatcher], certificate: tuple[Path, Path]
) -> None:
    catcher = smtp_server(
        tls_context=_server_context(certificate),
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
    )
    transport = SmtpTransport(
        catcher.host, catcher.port, USER, PASSWORD, starttls=True, ca_file=str(certificate[0]), timeout=5
    )
    _mailer(transport)[0].send(EMAIL)
    _assert_delivered(catcher)


def test_wrong_password_fails_without_showing_it(
    smtp_server: Callable[..., MailCatcher], certificate: tuple[Path, Path]
) -> None:
    catcher = smtp_server(tls_context=_server_context(certificate), authenticator=_authenticator, auth_required=True)
    transport = SmtpTransport(
        catcher.host, catcher.port, USER, "wrong-password-xyz", starttls=True, ca_file=str(certificate[0])
    )
    mailer, registry = _mailer(transport)
    with pytest.raises(MailError, match="SMTPAuthenticationError") as caught:
        mailer.send(EMAIL)
    assert "wrong-password-xyz" not in str(caught.value)
    assert catcher.messages == []
    assert _sent(registry, "failure") == 1


def test_implicit_tls_trusting_the_ca_file(
    smtp_server: Callable[..., MailCatcher], certificate: tuple[Path, Path]
) -> None:
    catcher = smtp_server(ssl_context=_server_context(certificate))
    transport = SmtpTransport(catcher.host, catcher.port, implicit_tls=True, ca_file=str(certificate[0]), timeout=5)
    _mailer(transport)[0].send(EMAIL)
    _assert_delivered(catcher)


def test_certificate_not_trusted_is_refused(
    smtp_server: Callable[..., MailCatcher], certificate: tuple[Path, Path]
) -> None:
    catcher = smtp_server(ssl_context=_server_context(certificate))
    with pytest.raises(MailError, match="CERTIFICATE_VERIFY_FAILED"):
        _mailer(SmtpTransport(catcher.host, catcher.port, implicit_tls=True, timeout=5))[0].send(EMAIL)
    assert catcher.messages == []


def test_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never sends a greeting
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(MailError, match="timed out"):
            _mailer(SmtpTransport("127.0.0.1", port, timeout=0.5))[0].send(EMAIL)


def test_server_down_is_a_mail_error() -> None:
    mailer, registry = _mailer(SmtpTransport("127.0.0.1", free_port(), timeout=2))
    with pytest.raises(MailError, match="ConnectionRefusedError"):
        mailer.send(EMAIL)
    assert _sent(registry, "failure") == 1


def test_http_email_service_gets_the_message_as_json(receiver: Callable[[], Receiver]) -> None:
    service = receiver()
    mailer, registry = _mailer(HttpEmailTransport(f"{service.url}/send", timeout=5))
    mailer.send(EMAIL)
    (request,) = service.requests
    assert (request.method, request.path) == ("POST", "/send")
    assert request.json() == {
        "from": SENDER,
        "to": TO,
        "subject": EMAIL.subject,
        "text": "plain body",
        "html": "<p>html body</p>",
        "type": "alert",
    }
    assert _sent(registry, "success") == 1


def test_http_email_service_failing_or_down_is_a_mail_error(receiver: Callable[[], Receiver]) -> None:
    service = receiver()
    service.answer_with(503, times=1)
    mailer, registry = _mailer(HttpEmailTransport(service.url, timeout=5))
    with pytest.raises(MailError, match="answered 503"):
        mailer.send(EMAIL)
    mailer.send(EMAIL)  # the service is back
    service.stop()
    with pytest.raises(MailError, match="unreachable"):
        mailer.send(EMAIL)
    assert (_sent(registry, "failure"), _sent(registry, "success")) == (2, 1)


class _RefusesQuit:
    """An aiosmtpd handler that accepts the message and then answers QUIT with an error."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        self.received.append(bytes(envelope.original_content or b""))
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, _server: SMTP, _session: Session, _envelope: Envelope) -> str:
        return "421 closing with an error after all"


def test_failing_quit_after_the_message_was_accepted_is_a_success() -> None:
    """Reporting it as a failure would make the caller retry and the email arrive twice."""
    handler = _RefusesQuit()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mailer, registry = _mailer(SmtpTransport("127.0.0.1", controller.port, timeout=5))
        mailer.send(EMAIL)
    finally:
        controller.stop()
    assert len(handler.received) == 1
    assert _sent(registry, "success") == 1


class _CountsSessions:
    """An aiosmtpd handler that accepts every message and notes which SMTP session (client port) it came on;
    ``fail_data`` answers the next DATA commands with a transient error instead."""

    def __init__(self) -> None:
        self.sessions: list[int] = []
        self.fail_data = 0

    async def handle_DATA(self, _server: SMTP, session: Session, _envelope: Envelope) -> str:
        if self.fail_data:
            self.fail_data -= 1
            return "451 try again later"
        self.sessions.append(session.peer[1])
        return "250 Message accepted for delivery"


@pytest.fixture
def counting_server() -> Iterator[tuple[_CountsSessions, int]]:
    handler = _CountsSessions()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def test_emails_share_one_smtp_session(counting_server: tuple[_CountsSessions, int]) -> None:
    handler, port = counting_server
    mailer, registry = _mailer(SmtpTransport("127.0.0.1", port, timeout=5))
    for _ in range(3):
        mailer.send(EMAIL)
    assert len(handler.sessions) == 3
    assert len(set(handler.sessions)) == 1
    assert _sent(registry, "success") == 3


def test_a_kept_session_the_server_closed_is_replaced_and_the_email_arrives_once(
    smtp_server: Callable[..., MailCatcher],
) -> None:
    catcher = smtp_server()
    mailer, registry = _mailer(SmtpTransport(catcher.host, catcher.port, timeout=5))
    mailer.send(EMAIL)
    catcher.stop()  # drops the kept session
    catcher.start()
    mailer.send(EMAIL)
    assert len(catcher.wait_for(2)) == 2
    assert _sent(registry, "success") == 2


def test_a_refused_message_is_a_mail_error_and_its_session_is_not_reused(
    counting_server: tuple[_CountsSessions, int],
) -> None:
    handler, port = counting_server
    mailer, registry = _mailer(SmtpTransport("127.0.0.1", port, timeout=5))
    mailer.send(EMAIL)
    handler.fail_data = 1
    with pytest.raises(MailError, match="451"):
        mailer.send(EMAIL)
    mailer.send(EMAIL)  # the retry
    assert len(handler.sessions) == 2
    assert len(set(handler.sessions)) == 2
    assert (_sent(registry, "success"), _sent(registry, "failure")) == (2, 1)


def test_a_session_idle_too_long_is_closed_not_reused(counting_server: tuple[_CountsSessions, int]) -> None:
    handler, port = counting_server
    now = [0.0]
    connections = SmtpConnections(idle_seconds=30, clock=lambda: now[0])
    mailer, _ = _mailer(SmtpTransport("127.0.0.1", port, timeout=5, connections=connections))
    mailer.send(EMAIL)
    now[0] = 20.0
    mailer.send(EMAIL)
    assert len(connections) == 1
    now[0] = 51.0
    connections.close_expired()
    assert len(connections) == 0
    mailer.send(EMAIL)
    assert len(handler.sessions) == 3
    assert len(set(handler.sessions)) == 2
    connections.close_all()
