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
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from devstack.standin import Fault, JsonObject, RecordedRequest, Response, StandinServer

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


_JSON = "application/json; charset=UTF-8"


def _json(status: int, value: Any) -> Response:
    return Response(status, json.dumps(value, indent=2).encode(), _JSON)


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
# The server
# --------------------------------------------------------------------------------------


class GeminiServer(StandinServer):
    """The stand-in Gemini API. Start it, point ``google.genai.Client`` at :attr:`base_url`."""

    title = "Gemini API stand-in"
    thread_name = "gemini-standin"
    log = log  # the server's own messages go to this module's logger

    def __init__(self, api_key: str = DEFAULT_API_KEY, *, port: int = 0, host: str = "127.0.0.1") -> None:
        super().__init__(port=port, host=host)
        self.api_key = api_key
        self._lock = threading.Lock()
        self._responder: Responder = lambda body: DEFAULT_ANSWER

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
        self._faults.add_failure(Fault(status, 0.0, times, message=message))

    def delay(self, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` requests for ``seconds`` before answering them."""
        self._faults.add_delay(Fault(0, seconds, times))

    # -- request handling ------------------------------------------------------------

    def _handle(self, request: RecordedRequest) -> Response:
        self._record(request)
        with self._lock:
            responder = self._responder  # the one set when the request came, even if it is held
        self._hold(request)
        match = _PATH.match(request.path)
        if match is None or request.method != "POST":
            return _json(404, error_body(404))
        refusal = self._check_key(request)
        if refusal is not None:
            return refusal
        model = match["model"]
        fault = self._faults.take_failure(request.target)
        if fault is not None:
            return _json(fault.status, error_body(fault.status, fault.message, model=model))
        try:
            body = json.loads(request.body)
        except ValueError as error:
            return _json(400, error_body(400, f"Invalid JSON payload received. {error}"))
        if not isinstance(body, dict) or not body.get("contents"):
            return _json(400, error_body(400, "* GenerateContentRequest.contents: contents is not specified\n"))
        try:
            text = responder(body)
        except Exception as error:  # a broken responder must fail the request, not hang it
            log.exception("Gemini stand-in responder failed")
            return _json(500, error_body(500, f"stand-in responder failed: {error!r}"))
        answer = generate_content_response(text, model=model, prompt=prompt_text(body))
        if match["method"] == "streamGenerateContent":
            return self._stream(answer)
        return _json(200, answer)

    def _check_key(self, request: RecordedRequest) -> Response | None:
        query_keys = request.query.get("key", [])  # ?key= works too, as on the real API
        key = request.header("x-goog-api-key") or (query_keys[0] if query_keys else None)
        if key is None:
            if request.header("Authorization"):
                return _json(401, error_body(401))
            message = (
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API."
            )
            return _json(403, error_body(403, message))
        if key != self.api_key:
            return _json(400, _invalid_key_body())
        return None

    @staticmethod
    def _stream(answer: JsonObject) -> Response:
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
        return Response(200, b"".join(events), "text/event-stream")
