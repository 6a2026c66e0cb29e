"""A bounded HTTP load loop on the loopback: a fixed number of keep-alive clients, a request cap and a time cap."""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.measure import percentile


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    @property
    def failures(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)


def post_all(
    port: int,
    bodies: Sequence[bytes],
    headers: Mapping[str, str],
    clients: int,
    max_seconds: float,
) -> LoadResult:
    """POST each body once (at most ``len(bodies)`` requests) from ``clients`` threads until the time cap."""
    result = LoadResult()
    lock = threading.Lock()
    next_index = itertools.count()
    deadline = time.perf_counter() + max_seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while time.perf_counter() < deadline:
                index = next(next_index)
                if index >= len(bodies):
                    return
                started = time.perf_counter()
                connection.request("POST", "/", body=bodies[index], headers=dict(headers))
                response = connection.getresponse()
                response.read()
                latency = time.perf_counter() - started
                with lock:
                    result.latencies.append(latency)
                    result.statuses[response.status] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, name=f"load-{n}") for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - started
    return result
