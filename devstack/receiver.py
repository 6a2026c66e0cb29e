"""An HTTP server that records every request and answers with a status the test chooses.

It plays an Alertmanager webhook receiver, a CloudEvents sink (K_SINK) or an
HTTP email service, wherever a test needs to see what was sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devstack.ports import free_port


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    recorder: Receiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status = self.server.recorder._record(
            RecordedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        payload = b'{"status": "ok"}' if status < 400 else b'{"error": "refused by the test"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_PUT = do_GET = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads ``requests`` instead of stderr."""


class Receiver:
    """Records requests; ``answer_with(503, times=2)`` makes the next two fail, the rest succeed."""

    def __init__(self, status: int = 200) -> None:
        self.port = free_port()
        self._default_status = status
        self._planned: deque[int] = deque()
        self._cond = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    def answer_with(self, status: int, times: int | None = None) -> None:
        """Answer the next ``times`` requests with ``status``; ``None`` makes it the default."""
        with self._cond:
            if times is None:
                self._default_status = status
            else:
                self._planned.extend([status] * times)

    def _record(self, request: RecordedRequest) -> int:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()
            return self._planned.popleft() if self._planned else self._default_status

    def wait_for(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"expected {count} request(s) within {timeout} s, got {len(self._requests)}")
                self._cond.wait(remaining)
            return list(self._requests)

    def start(self) -> Receiver:
        server = _Server(("127.0.0.1", self.port), _Handler)
        server.recorder = self
        self._server = server
        threading.Thread(target=server.serve_forever, name=f"receiver-{self.port}", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
