"""The HTTP plumbing the stand-ins share: recorded requests, injected faults and a threaded server.

A stand-in subclasses :class:`StandinServer` and answers each :class:`RecordedRequest` with a
:class:`Response` in ``_handle``, which first calls ``_record`` (so :attr:`StandinServer.requests`
shows it) and ``_hold`` (to sleep through a matching injected delay). The base class runs the
server thread and cuts pooled connections when it stops.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

__all__ = ["Fault", "Faults", "RecordedRequest", "Response", "StandinServer"]

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        """A header, case-insensitively."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def target(self) -> str:
        """Path and query string, which ``path_contains`` matches against."""
        query = "&".join(f"{key}={value}" for key, values in self.query.items() for value in values)
        return f"{self.path}?{query}" if query else self.path


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    status: int  # 0 for a delay
    seconds: float
    remaining: int
    path_contains: str | None = None
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Faults:
    """Injected failures and delays, each consumed by the next matching requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[Fault] = []
        self._delays: list[Fault] = []

    def add_failure(self, fault: Fault) -> None:
        with self._lock:
            self._failures.append(fault)

    def add_delay(self, fault: Fault) -> None:
        with self._lock:
            self._delays.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._delays.clear()

    def take_failure(self, target: str) -> Fault | None:
        return self._take(self._failures, target)

    def take_delay(self, target: str) -> Fault | None:
        return self._take(self._delays, target)

    def _take(self, faults: list[Fault], target: str) -> Fault | None:
        with self._lock:
            for fault in faults:
                if fault.path_contains is None or fault.path_contains in target:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        faults.remove(fault)
                    return fault
        return None


class _HTTPServer(ThreadingHTTPServer):
    """A threaded server that can also cut its open keep-alive connections when stopped."""

    daemon_threads = True  # a handler stuck in a client's slow read must not block exit

    def __init__(
        self,
        address: tuple[str, int],
        app: Callable[[RecordedRequest], Response],
        handler: type[_Handler],
        log: logging.Logger,
    ) -> None:
        super().__init__(address, handler)
        self.app = app
        self.log = log
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        # Without this, pooled client connections would keep talking to a "stopped" server.
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            self.log.debug("connection from %s ended: %s", client_address, error)
        else:
            self.log.exception("error while serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    """Answers GET and POST; :func:`_handler_for` adds the other methods a stand-in serves."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the real clients pool connections
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            body=body,
        )
        try:
            response = self.server.app(request)
        except Exception as error:  # a bug in the stand-in must fail the request visibly, not drop it
            self.server.log.exception("stand-in failed on %s %s", self.command, self.path)
            response = Response(500, f"stand-in error: {error!r}".encode(), "text/plain")
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout in a test); nothing left to answer.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        self.server.log.debug("%s " + format, self.address_string(), *args)


def _handler_for(methods: Iterable[str]) -> type[_Handler]:
    """A handler class answering exactly ``methods``; any other gets the standard library's 501."""
    extra = {f"do_{method}": _Handler._serve for method in methods if method not in ("GET", "POST")}
    return type("_StandinHandler", (_Handler,), extra) if extra else _Handler


class StandinServer:
    """Lifecycle, recorded requests and injected delays of a stand-in; subclasses answer requests.

    Class attributes name it: :attr:`title` in log lines and errors, :attr:`thread_name`
    for the serving thread, :attr:`methods` the HTTP methods it answers, :attr:`log` the
    logger its server writes to.
    """

    title = "stand-in"
    thread_name = "standin"
    methods: tuple[str, ...] = ("GET", "POST")
    log = logging.getLogger("devstack.standin")

    def __init__(self, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self._address = (host, port)
        self._faults = Faults()
        self._requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _HTTPServer(self._address, self._handle, _handler_for(self.methods), self.log)
        # A short poll interval: shutdown() waits up to one interval, and tests stop a server each.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        self.log.info("%s at %s", self.title, self.url)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in an injected delay
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"the {self.title} is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- faults and recorded requests ------------------------------------------------

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._requests_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    # -- request handling ------------------------------------------------------------

    def _handle(self, request: RecordedRequest) -> Response:
        raise NotImplementedError

    def _record(self, request: RecordedRequest) -> None:
        with self._requests_lock:
            self._requests.append(request)

    def _hold(self, request: RecordedRequest) -> None:
        """Sleep through an injected delay that matches the request (cut short by :meth:`stop`)."""
        delay = self._faults.take_delay(request.target)
        if delay is not None:
            self._stopping.wait(delay.seconds)
