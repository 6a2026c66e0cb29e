"""Deterministic names, uids, IPs and timestamps, so generated objects are the same on every run."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

# Kubernetes builds generated name suffixes from this alphabet (no vowels, no 0/1/3).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def sha_bytes(*parts: str) -> bytes:
    return hashlib.sha256("/".join(parts).encode()).digest()


def hex_id(length: int, *parts: str) -> str:
    """Deterministic hex, so generated objects are the same on every run."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def safe_id(length: int, *parts: str) -> str:
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in sha_bytes(*parts)[:length])


def stable_uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def k8s_time(moment: datetime) -> str:
    """RFC 3339 in whole seconds, as Kubernetes writes timestamps (isoformat is twice as fast as strftime)."""
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def stable_ip(prefix: str, *parts: str) -> str:
    digest = sha_bytes(*parts)
    return f"{prefix}.{digest[0]}.{digest[1] % 254 + 1}"
