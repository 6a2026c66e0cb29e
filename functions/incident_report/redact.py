"""Secrets-looking values replaced by ``[REDACTED]`` before any text leaves the function.

Pod logs and events routinely carry credentials (a connection string, a bearer
header, a JWT in a debug line). Everything the function sends on — the prompt
to Gemini, the report email, its own logs — goes through :func:`redact` first.
The patterns lean towards redacting too much: a lost character of evidence is
cheap, a leaked key is not.
"""

from __future__ import annotations

import re
from collections.abc import Callable

REDACTED = "[REDACTED]"

# Names that mark the value after them as secret, in key=value, key: value and "key": "value" forms.
_SENSITIVE_KEY = (
    r"(?:[A-Za-z0-9_.-]*(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|client[_-]?secret|credentials?|session[_-]?id|cookie|signature|auth)[A-Za-z0-9_.-]*)"
)

_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # PEM blocks (private keys, certificates with keys): the whole block, even if cut off by the log tail.
    (
        re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(?:-----END [A-Z0-9 ]+-----|\Z)", re.DOTALL),
        REDACTED,
    ),
    # Authorization headers: Bearer, Basic, Token and friends.
    (
        re.compile(r"(?i)\b(authorization\s*[:=]\s*[\"']?)(?:(bearer|basic|token|digest)\s+)?[^\s\"',;]+"),
        lambda m: f"{m[1]}{m[2] + ' ' if m[2] else ''}{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    # JSON Web Tokens: three base64url parts, the first two starting with '{"' encoded.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
    # Cloud and SaaS keys with a recognisable shape.
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), REDACTED),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"), REDACTED),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"), REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"), REDACTED),
    # Credentials in URLs: scheme://user:password@host.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@"), r"\1" + REDACTED + "@"),
    # "key": "value" (JSON) and key=value / key: value (env dumps, logfmt, YAML, flags).
    (
        re.compile(r"(?i)([\"']" + _SENSITIVE_KEY + r"[\"']\s*:\s*)\"(?:[^\"\\]|\\.)*\""),
        r'\1"' + REDACTED + '"',
    ),
    (
        re.compile(
            r"(?i)(\b" + _SENSITIVE_KEY + r"\s*(?:=|:)\s*)"
            r"(?![\s\"']*(?:\[REDACTED\]|(?i:bearer|basic|digest|token)\s))"  # already handled above
            r"(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"
        ),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)(--" + _SENSITIVE_KEY + r"[ =])(?!\[REDACTED\])\S+"), r"\1" + REDACTED),
    # A long run of mixed-case base64 with digits (an AWS secret key, a raw token, the body of a PEM block cut off
    # from its BEGIN line): no log line needs one to be understood.
    (
        re.compile(
            r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]*[0-9])(?=[A-Za-z0-9/+]*[A-Z])[A-Za-z0-9/+]{40,}={0,2}(?![A-Za-z0-9/+=])"
        ),
        REDACTED,
    ),
)


def redact(text: str) -> str:
    """``text`` with every secrets-looking value replaced by ``[REDACTED]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_mapping(values: dict[str, str]) -> dict[str, str]:
    """Labels or annotations with secrets-looking values redacted (a value under a secret-looking name entirely)."""
    cleaned: dict[str, str] = {}
    for name, value in values.items():
        cleaned[name] = REDACTED if re.fullmatch(_SENSITIVE_KEY, name, re.IGNORECASE) else redact(value)
    return cleaned
