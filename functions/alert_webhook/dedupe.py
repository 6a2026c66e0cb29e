"""A bounded, expiring record of what already went out for a notification, so a retry does not mail twice.

Alertmanager retries a notification when we answer 5xx. If the email went out
but the sink failed, the retry must send the events and not the email again.
The record lives in this process's memory: it is lost on restart and not shared
between replicas or gunicorn workers (the README says what that means).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from whooper_common.alertmanager import Notification, format_time

DEFAULT_TTL_SECONDS = 3600.0  # longer than Alertmanager's retries, shorter than its default repeat_interval (4h)
DEFAULT_MAX_ENTRIES = 10_000


def notification_key(notification: Notification) -> str:
    """Same group, same status, same alerts (fingerprint, startsAt, status): the same notification, retried."""
    alerts = sorted((a.fingerprint, format_time(a.starts_at), a.status) for a in notification.alerts)
    text = "\n".join([notification.group_key, notification.status, *("/".join(a) for a in alerts)])
    return hashlib.sha256(text.encode()).hexdigest()


class SentRecord:
    """Keys remembered for ``ttl_seconds``, at most ``max_entries`` of them (the oldest go first)."""

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._holds: dict[str, tuple[threading.Lock, int]] = {}

    def _expire(self, now: float) -> None:
        while self._expiry:
            key, expires = next(iter(self._expiry.items()))
            if expires > now and len(self._expiry) <= self.max_entries:
                return
            del self._expiry[key]

    def __contains__(self, key: object) -> bool:
        with self._lock:
            self._expire(self._clock())
            return key in self._expiry

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._expiry)

    def add(self, key: str) -> None:
        with self._lock:
            now = self._clock()
            self._expiry.pop(key, None)  # re-adding moves the key to the young end
            self._expiry[key] = now + self.ttl_seconds
            self._expire(now)

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Serialise work on one key: a retry that overlaps a slow first attempt waits, then sees what it sent."""
        with self._lock:
            lock, users = self._holds.get(key, (threading.Lock(), 0))
            self._holds[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._holds[key]
                if users == 1:
                    del self._holds[key]
                else:
                    self._holds[key] = (lock, users - 1)
