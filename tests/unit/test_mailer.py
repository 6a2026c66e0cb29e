"""The shared mailer's message building and configuration (transports against real servers: tests/integration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from whooper_common.config import ConfigError
from whooper_common.mailer import (
    Email,
    HttpEmailTransport,
    SmtpTransport,
    build_message,
    mailer_from_env,
    one_line,
    recipients_from_env,
    transport_from_env,
)
from whooper_common.metrics import new_registry


def test_one_line_removes_every_line_break_and_control_character() -> None:
    assert one_line("a\r\nBcc: x@example.com") == "a Bcc: x@example.com"
    assert one_line("tab\there\x00\x7fend") == "tab here end"
    assert one_line("x" * 300) == "x" * 199 + "…"


def test_message_is_multipart_and_headers_cannot_be_injected() -> None:
    email = Email("[FIRING:1] Evil\r\nBcc: attacker@example.com", "plain\r\nText", "<p>html</p>", "alert")
    message = build_message(email, "Whooper <alerts@whooper.local>", ["oncall@example.com", "b@example.com"])
    assert message["Subject"] == "[FIRING:1] Evil Bcc: attacker@example.com"
    assert message["Bcc"] is None
    assert message["To"] == "oncall@example.com, b@example.com"
    assert message["X-Whooper-Type"] == "alert"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    header_block = message.as_bytes().split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in header_block


def test_smtp_is_the_default_with_ports_by_tls_mode(tmp_path: Path) -> None:
    base = {"SMTP_HOST": "mail.example.com"}
    assert transport_from_env(base) == SmtpTransport("mail.example.com", 25)
    starttls = transport_from_env({**base, "SMTP_STARTTLS": "true"})
    assert isinstance(starttls, SmtpTransport)
    assert (starttls.port, starttls.starttls, starttls.implicit_tls) == (587, True, False)
    ca = str(tmp_path / "ca.pem")
    Path(ca).write_text("-----BEGIN CERTIFICATE-----\n")
    implicit = transport_from_env({**base, "SMTP_SSL": "true", "SMTP_CA_FILE": ca, "EMAIL_TIMEOUT_SECONDS": "3"})
    assert isinstance(implicit, SmtpTransport)
    assert (implicit.port, implicit.implicit_tls, implicit.ca_file, implicit.timeout) == (465, True, ca, 3.0)


def test_email_app_url_selects_the_http_service() -> None:
    transport = transport_from_env({"EMAIL_APP_URL": "http://email-app.whooper/send", "SMTP_HOST": "ignored"})
    assert isinstance(transport, HttpEmailTransport)
    assert transport.url == "http://email-app.whooper/send"


def test_password_is_not_in_the_transport_repr() -> None:
    transport = transport_from_env({"SMTP_HOST": "m", "SMTP_USERNAME": "u", "SMTP_PASSWORD": "hunter2-secret"})
    assert "hunter2-secret" not in repr(transport)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "SMTP_HOST"),
        ({"SMTP_HOST": "m", "SMTP_SSL": "true", "SMTP_STARTTLS": "true"}, "SMTP_SSL"),
        ({"SMTP_HOST": "m", "SMTP_USERNAME": "u"}, "SMTP_PASSWORD"),
        ({"SMTP_HOST": "m", "SMTP_PORT": "smtp"}, "SMTP_PORT"),
        ({"SMTP_HOST": "m", "SMTP_SSL": "maybe"}, "SMTP_SSL"),
        ({"EMAIL_APP_URL": "email-app:8080"}, "EMAIL_APP_URL"),
        ({"SMTP_HOST": "m", "EMAIL_TIMEOUT_SECONDS": "0"}, "EMAIL_TIMEOUT_SECONDS"),
        ({"SMTP_HOST": "m", "SMTP_CA_FILE": "/nonexistent/ca.pem"}, "SMTP_CA_FILE"),
    ],
)
def test_bad_transport_configuration_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        transport_from_env(env)


def test_recipients_come_from_alert_email_then_the_default() -> None:
    assert recipients_from_env({"ALERT_EMAIL": "a@example.com, b@example.com,"}) == ["a@example.com", "b@example.com"]
    assert recipients_from_env({"DEFAULT_EMAIL_RECIPIENT": "ops@example.com"}) == ["ops@example.com"]
    with pytest.raises(ConfigError, match="ALERT_EMAIL"):
        recipients_from_env({})
    with pytest.raises(ConfigError, match="DEFAULT_EMAIL_RECIPIENT contains 'not an address'"):
        recipients_from_env({"DEFAULT_EMAIL_RECIPIENT": "not an address"})


def test_sender_must_be_an_address() -> None:
    env = {"SMTP_HOST": "m", "ALERT_EMAIL": "a@example.com"}
    assert mailer_from_env(env, new_registry()).sender == "Whooper Alerts <alerts@whooper.local>"
    with pytest.raises(ConfigError, match="EMAIL_FROM"):
        mailer_from_env({**env, "EMAIL_FROM": "whooper"}, new_registry())
