"""A Gemini API stand-in answering ``generateContent`` as the real ``google-genai`` client calls it.

What google-genai 3.6.1 sends (read from ``google/genai/_api_client.py`` and ``models.py``):

* ``POST {base_url}/{api_version}/models/{model}:generateContent``; ``api_version`` is
  ``v1`` unless ``HttpOptions(api_version=...)`` or ``GOOGLE_GENAI_API_VERSION`` says
  otherwise (``v1beta`` with ``beta``). Streaming uses ``:streamGenerateContent?alt=sse``.
* Headers: ``x-goog-api-key`` (the key, stripped), ``Content-Type: application/json``,
  ``user-agent`` and ``x-goog-api-client`` (``google-genai-sdk/3.6.1 gl-python/...``)
  and, when ``HttpOptions.timeout`` (milliseconds) is set, ``X-Server-Timeout`` in whole
  seconds.
* Body: ``contents``, ``systemInstruction`` and ``generationConfig`` (camelCase:
  ``responseMimeType``, ``responseSchema``/``responseJsonSchema``, ``temperature``...).
* Answer read back: ``candidates[].content.parts[].text`` (``role: "model"``),
  ``finishReason``, ``usageMetadata``, ``modelVersion``, ``responseId``. Errors are
  ``{"error": {"code", "message", "status", "details"?}}``; the client raises
  ``google.genai.errors.ClientError`` for 4xx and ``ServerError`` for 5xx.

Retries in google-genai 3.6.1 (``_api_client.retry_args``):

* By default (``HttpOptions.retry_options`` unset) the client does **not** retry:
  tenacity stops after one attempt, so a 429 or 5xx raises on the first answer and a
  timeout raises the transport's own ``httpx2.ReadTimeout`` (not an ``APIError``).
* With ``retry_options=HttpRetryOptions()`` (client-wide, or per request through
  ``config.http_options``): 5 attempts in all, exponential backoff with jitter from
  1 s (about 1, 2, 4, 8 s plus up to 1 s), capped at 60 s, on 408/429/500/502/503/504
  and on transient httpx errors (timeouts, connection errors). It ignores the server's
  ``RetryInfo``/``Retry-After``. ``attempts=1`` switches retrying off again.
* Exception: the async client (``client.aio``) on aiohttp, which it prefers when
  aiohttp is installed, retries a refused or dropped connection once by itself after
  sleeping 1-10 s, even without ``retry_options``.

Authentication, as Google answers: a wrong key is ``400 INVALID_ARGUMENT`` ("API key not
valid"), no key ``403 PERMISSION_DENIED`` ("Method doesn't allow unregistered
callers"), and a bearer token without a key ``401 UNAUTHENTICATED``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from google.genai import Client, types

__all__ = [
    "DEFAULT_ANSWER",
    "DEFAULT_API_KEY",
    "GeminiServer",
    "RecordedRequest",
    "Responder",
    "error_body",
    "generate_content_response",
    "prompt_text",
]

log = logging.getLogger("devstack.gemini")

JsonObject = dict[str, Any]
Responder = Callable[[JsonObject], str]

DEFAULT_API_KEY = "devstack-gemini-key"
DEFAULT_ANSWER = "This is the Gemini stand-in's answer."

_PATH = re.compile(
    r"^/(?P<version>v\d+\w*)/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$"
)

# Google's status names and the messages the Gemini API sends with them.
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: (
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
        "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    ),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    408: ("DEADLINE_EXCEEDED", "Request timed out."),
    429: (
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details. For more information on "
        "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
    ),
    500: (
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    ),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "The request timed out. Please try again."),
}


def error_body(code: int, message: str | None = None, *, model: str = "gemini-2.5-flash") -> JsonObject:
    """A Google API error body; 429 carries the quota details and RetryInfo the real one has."""
    status, default_message = _ERRORS.get(code, ("UNKNOWN", "Unknown error."))
    error: JsonObject = {"code": code, "message": message or default_message, "status": status}
    if code == 429:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                        "quotaDimensions": {"location": "global", "model": model},
                        "quotaValue": "10",
                    }
                ],
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "27s"},
        ]
    return {"error": error}


def _invalid_key_body() -> JsonObject:
    message = "API key not valid. Please pass a valid API key."
    body = error_body(400, message)
    body["error"]["details"] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": message},
    ]
    return body


def prompt_text(body: Mapping[str, Any]) -> str:
    """All text parts of a request's ``contents``, joined by newlines (handy in responders)."""
    return "\n".join(
        part["text"]
        for content in body.get("contents", [])
        for part in content.get("parts", [])
        if isinstance(part.get("text"), str)
    )


def _tokens(text: str) -> int:
    # Gemini tokens average about four characters of English text.
    return max(1, len(text) // 4)


def _response_id() -> str:
    # Real response IDs are 22 URL-safe base64 characters.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22]


def generate_content_response(text: str, *, model: str, prompt: str = "", finish_reason: str = "STOP") -> JsonObject:
    """A ``GenerateContentResponse`` as the Gemini API returns it."""
    prompt_tokens, answer_tokens = _tokens(prompt), _tokens(text)
    return {
        "candidates": [
            {"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": finish_reason, "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": answer_tokens,
            "totalTokenCount": prompt_tokens + answer_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
        },
        "modelVersion": model,
        "responseId": _response_id(),
    }


# --------------------------------------------------------------------------------------
# HTTP plumbing (the same small pieces as devstack.kube_api, kept apart so either
# stand-in can change without the other)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A header, case-insensitively."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, value: Any) -> _Response:
        return cls(status, json.dumps(value, indent=2).encode())


@dataclass
class _Fault:
    status: int  # 0 for a delay
    seconds: float
    remaining: int
    message: str | None = None


class _Faults:
    """Injected failures and delays, each consumed by the next requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[_Fault] = []
        self._delays: list[_Fault] = []

    def add(self, fault: _Fault) -> None:
        with self._lock:
            (self._delays if fault.status == 0 else self._failures).append(fault)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._delays.clear()

    def take_failure(self) -> _Fault | None:
        return self._take(self._failures)

    def take_delay(self) -> _Fault | None:
        return self._take(self._delays)

    def _take(self, faults: list[_Fault]) -> _Fault | None:
        with self._lock:
            if not faults:
                return None
            fault = faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.pop(0)
            return fault


class _HTTPServer(ThreadingHTTPServer):
    """A threaded server that can also cut its open keep-alive connections when stopped."""

    daemon_threads = True  # a handler stuck in a client's slow read must not block exit

    def __init__(self, address: tuple[str, int], app: Callable[[RecordedRequest], _Response]) -> None:
        super().__init__(address, _Handler)
        self.app = app
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
            log.debug("connection from %s ended: %s", client_address, error)
        else:
            log.exception("error while serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx pools connections
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
            log.exception("stand-in failed on %s %s", self.command, self.path)
            response = _Response(500, f"stand-in error: {error!r}".encode(), "text/plain")
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
        log.debug("%s " + format, self.address_string(), *args)


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------


class GeminiServer:
    """The stand-in Gemini API. Start it, point ``google.genai.Client`` at :attr:`base_url`."""

    def __init__(self, api_key: str = DEFAULT_API_KEY, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self.api_key = api_key
        self._address = (host, port)
        self._lock = threading.Lock()
        self._responder: Responder = lambda body: DEFAULT_ANSWER
        self._faults = _Faults()
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> GeminiServer:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _HTTPServer(self._address, self._handle)
        # A short poll interval: shutdown() waits up to one interval, and tests stop a server each.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="gemini-standin", daemon=True
        )
        self._thread.start()
        log.info("Gemini API stand-in at %s", self.url)
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

    def __enter__(self) -> GeminiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the Gemini API stand-in is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as ``HttpOptions(base_url=...)``."""
        return f"{self.url}/"

    def client(self, *, timeout_ms: int | None = 10_000, retry_options: types.HttpRetryOptions | None = None) -> Client:
        """A real ``google.genai.Client`` pointed at this stand-in with its API key."""
        from google import genai
        from google.genai import types

        options = types.HttpOptions(base_url=self.base_url, timeout=timeout_ms, retry_options=retry_options)
        return genai.Client(api_key=self.api_key, http_options=options)

    # -- behaviour -------------------------------------------------------------------

    def respond_with(self, answer: str | Responder) -> None:
        """The text of the next answers: fixed, or computed from the parsed request body.

        A callable can answer JSON for structured output: the body's
        ``generationConfig.responseMimeType``/``responseSchema`` tell what was asked.
        If it raises, the request gets a 500 INTERNAL.
        """
        responder: Responder = answer if callable(answer) else (lambda body: answer)
        with self._lock:
            self._responder = responder

    def fail(self, status: int, times: int = 1, *, message: str | None = None) -> None:
        """Answer the next ``times`` requests with ``status`` and a Google-shaped error body."""
        self._faults.add(_Fault(status, 0.0, times, message))

    def delay(self, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` requests for ``seconds`` before answering them."""
        self._faults.add(_Fault(0, seconds, times))

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # -- request handling ------------------------------------------------------------

    def _handle(self, request: RecordedRequest) -> _Response:
        with self._lock:
            self._requests.append(request)
            responder = self._responder
        delay = self._faults.take_delay()
        if delay is not None:
            self._stopping.wait(delay.seconds)
        match = _PATH.match(request.path)
        if match is None or request.method != "POST":
            return _Response.json(404, error_body(404))
        refusal = self._check_key(request)
        if refusal is not None:
            return refusal
        model = match["model"]
        fault = self._faults.take_failure()
        if fault is not None:
            return _Response.json(fault.status, error_body(fault.status, fault.message, model=model))
        try:
            body = json.loads(request.body)
        except ValueError as error:
            return _Response.json(400, error_body(400, f"Invalid JSON payload received. {error}"))
        if not isinstance(body, dict) or not body.get("contents"):
            return _Response.json(
                400, error_body(400, "* GenerateContentRequest.contents: contents is not specified\n")
            )
        try:
            text = responder(body)
        except Exception as error:  # a broken responder must fail the request, not hang it
            log.exception("Gemini stand-in responder failed")
            return _Response.json(500, error_body(500, f"stand-in responder failed: {error!r}"))
        answer = generate_content_response(text, model=model, prompt=prompt_text(body))
        if match["method"] == "streamGenerateContent":
            return self._stream(answer)
        return _Response.json(200, answer)

    def _check_key(self, request: RecordedRequest) -> _Response | None:
        query_keys = request.query.get("key", [])  # ?key= works too, as on the real API
        key = request.header("x-goog-api-key") or (query_keys[0] if query_keys else None)
        if key is None:
            if request.header("Authorization"):
                return _Response.json(401, error_body(401))
            message = (
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API."
            )
            return _Response.json(403, error_body(403, message))
        if key != self.api_key:
            return _Response.json(400, _invalid_key_body())
        return None

    @staticmethod
    def _stream(answer: JsonObject) -> _Response:
        """Server-sent events, the text split over up to three chunks; the last one says STOP."""
        text: str = answer["candidates"][0]["content"]["parts"][0]["text"]
        size = max(1, -(-len(text) // 3))
        pieces = [text[start : start + size] for start in range(0, len(text), size)] or [""]
        events = []
        for position, piece in enumerate(pieces):
            chunk = json.loads(json.dumps(answer))
            candidate = chunk["candidates"][0]
            candidate["content"]["parts"][0]["text"] = piece
            if position < len(pieces) - 1:
                del candidate["finishReason"]
            events.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\r\n\r\n")
        return _Response(200, b"".join(events), "text/event-stream")
