"""Logged-in SMTP connections kept between emails, so each email is one SMTP transaction, not a new session.

A new session (TCP, greeting, EHLO, STARTTLS, AUTH, QUIT) cost more than the
message itself. Only idle connections sit here: a sender takes one (or none),
and gives it back only after the server accepted a message on it. A connection
that failed in any way is closed and never given back, so a broken connection
costs at most the email that found it broken, which its caller retries: what
the server accepted is never sent again, and nothing the server did not accept
is reported as sent.

Idle connections are closed after ``idle_seconds`` (a reaper thread, started
with the first kept connection) and when the pool is garbage-collected.
"""

from __future__ import annotations

import smtplib
import threading
import time
import weakref
from collections.abc import Callable

DEFAULT_IDLE_SECONDS = 30.0  # well below the idle timeouts of common MTAs (Postfix 300 s, Exchange 600 s)
DEFAULT_MAX_IDLE = 8  # functions-framework serves with 4 threads a CPU; more idle sessions would only burden the MTA


def _close(connections: list[smtplib.SMTP]) -> None:
    # No QUIT: a server that hangs must not hold up the email being sent; MTAs treat a closed idle session as ended.
    for connection in connections:
        connection.close()


class SmtpConnections:
    """Idle SMTP connections, newest first out, each with the time it was last used."""

    def __init__(
        self,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        max_idle: int = DEFAULT_MAX_IDLE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_seconds = idle_seconds
        self.max_idle = max_idle
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: list[tuple[smtplib.SMTP, float]] = []
        self._reaper: threading.Thread | None = None
        self._stopped = threading.Event()
        weakref.finalize(self, _shut, self._idle, self._lock, self._stopped)

    def __len__(self) -> int:
        with self._lock:
            return len(self._idle)

    def take(self) -> smtplib.SMTP | None:
        """A connection that answered NOOP just now, or ``None`` (the caller opens a new one)."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                connection, used = self._idle.pop()
            if self._clock() - used > self.idle_seconds:
                _close([connection])
                continue
            try:
                # The server may have closed the session since (timeout, restart, message limit): ask first.
                alive = connection.noop()[0] == 250
            except (OSError, smtplib.SMTPException):
                alive = False
            if alive:
                return connection
            _close([connection])

    def give(self, connection: smtplib.SMTP) -> None:
        """Keep a connection the server just accepted a message on."""
        with self._lock:
            self._idle.append((connection, self._clock()))
            surplus = self._idle[: -self.max_idle] if len(self._idle) > self.max_idle else []
            del self._idle[: len(surplus)]
            if self._reaper is None:
                self._reaper = threading.Thread(
                    target=_reap, args=(weakref.ref(self), self._stopped), name="smtp-reaper", daemon=True
                )
                self._reaper.start()
        _close([c for c, _ in surplus])

    def close_expired(self) -> None:
        now = self._clock()
        with self._lock:
            expired = [c for c, used in self._idle if now - used > self.idle_seconds]
            self._idle[:] = [(c, used) for c, used in self._idle if now - used <= self.idle_seconds]
        _close(expired)

    def close_all(self) -> None:
        _shut(self._idle, self._lock, self._stopped)


def _shut(idle: list[tuple[smtplib.SMTP, float]], lock: threading.Lock, stopped: threading.Event) -> None:
    stopped.set()
    with lock:
        connections = [c for c, _ in idle]
        idle.clear()
    _close(connections)


def _reap(pool: weakref.ref[SmtpConnections], stopped: threading.Event) -> None:
    """Close idle connections as they expire; holds the pool only weakly, so it ends when the pool goes."""
    while True:
        connections = pool()
        if connections is None:
            return
        interval = connections.idle_seconds / 2
        connections.close_expired()
        del connections
        if stopped.wait(interval):
            return
