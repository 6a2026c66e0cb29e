"""Secrets-looking values never leave the function: they are replaced by [REDACTED]."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from incident_report.redact import REDACTED, redact, redact_mapping

SECRETS = [
    ("password=hunter2 user=bob", "hunter2"),
    ("DB_PASSWORD: s3cr3t-value", "s3cr3t-value"),
    ('{"api_key": "k-9f8e7d6c5b4a", "name": "checkout"}', "k-9f8e7d6c5b4a"),
    ("Authorization: Bearer abc.def.ghi12345", "abc.def.ghi12345"),
    ('curl -H "Authorization: Basic dXNlcjpwYXNzd29yZA=="', "dXNlcjpwYXNzd29yZA=="),
    ("connecting to postgres://app:pa55w0rd@db:5432/orders", "pa55w0rd"),
    (
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    ),
    ("using key AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE"),
    ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG"),
    ("aws secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY in the middle", "wJalrXUtnFEMI/K7MDENG"),
    ("client_secret='abc123def456'", "abc123def456"),
    ("--password hunter2 --user admin", "hunter2"),
    ("gemini key AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"),
    ("github ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("slack xoxb-123456789012-abcdefghij", "xoxb-123456789012-abcdefghij"),
]


@pytest.mark.parametrize(("line", "secret"), SECRETS)
def test_secret_values_are_redacted(line: str, secret: str) -> None:
    cleaned = redact(line)
    assert secret not in cleaned
    assert REDACTED in cleaned


def test_a_pem_block_is_redacted_whole_even_when_cut_off() -> None:
    text = "loading key\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHC\nozMxH2Mo4lgOEePzNm0t\n"
    assert redact(text) == "loading key\n" + REDACTED
    whole = "a\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----\nafter"
    assert redact(whole) == f"a\n{REDACTED}\nafter"


def test_a_pem_body_without_its_begin_line_is_redacted() -> None:
    body = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7Qk=="
    assert redact(f"tail of a dump {body} done") == f"tail of a dump {REDACTED} done"


def test_the_scheme_of_an_authorization_header_stays_readable() -> None:
    assert redact("Authorization: Bearer abc.def.ghi12345") == f"Authorization: Bearer {REDACTED}"


@pytest.mark.parametrize(
    "line",
    [
        "Back-off restarting failed container checkout in pod checkout-7d9f8b6c5-x2x9z_shop",
        "OOMKilled: container exceeded its memory limit of 256Mi",
        "pulled image sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        '{"level":"error","msg":"db connection refused","request":6}',
        "GET /healthz 200 1.2ms",
    ],
)
def test_ordinary_log_lines_are_left_alone(line: str) -> None:
    assert redact(line) == line


def test_labels_with_secret_names_are_redacted_whole() -> None:
    assert redact_mapping({"pod": "checkout-1", "api_token": "plain", "note": "password=x"}) == {
        "pod": "checkout-1",
        "api_token": REDACTED,
        "note": f"password={REDACTED}",
    }


@given(st.text(max_size=200))
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once
