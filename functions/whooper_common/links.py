"""Links that may go into an email: http(s) only."""

from __future__ import annotations

from urllib.parse import urlsplit


def http_url(value: str) -> str:
    """The URL if it is http(s), else empty, so no ``javascript:``, ``data:`` or ``mailto:`` link reaches a mail client.

    Annotations and generator URLs come from labels anyone can set, so both emails pass every link through here.
    """
    try:
        scheme = urlsplit(value.strip()).scheme.lower()
    except ValueError:
        return ""
    return value.strip() if scheme in ("http", "https") else ""
