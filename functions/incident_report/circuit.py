"""A circuit breaker for rate limits: after repeated 429s, stop calling for a while.

Hammering an API that says "too many requests" only extends the throttling and
makes every report wait for the timeout; while the circuit is open the summary
comes from the template at once. After the pause one call is let through
(half-open): success closes the circuit, another 429 opens it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    def __init__(self, threshold: int, open_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = max(1, threshold)
        self.open_seconds = open_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._open_until: float | None = None
        self._trial_out = False

    def allow(self) -> bool:
        """Whether a call may go out now (in half-open state, only one at a time)."""
        with self._lock:
            if self._open_until is None:
                return True
            if self._clock() < self._open_until or self._trial_out:
                return False
            self._trial_out = True
            return True

    def record_rate_limited(self) -> None:
        with self._lock:
            self._consecutive += 1
            self._trial_out = False
            if self._consecutive >= self.threshold or self._open_until is not None:
                self._open_until = self._clock() + self.open_seconds

    def record_other(self) -> None:
        """Any answer that is not a 429 (success or another failure) closes the circuit."""
        with self._lock:
            self._consecutive = 0
            self._open_until = None
            self._trial_out = False

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._open_until is not None and self._clock() < self._open_until
