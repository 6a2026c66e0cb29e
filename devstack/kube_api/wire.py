"""Wire format pieces: compact JSON and the ``Status`` bodies the API server sends with errors."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from devstack.standin import JsonObject, Response


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys).encode()


def json_response(status: int, value: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, dumps(value), headers=headers or {})


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter."
)
CONTINUE_INCONSISTENT = (
    CONTINUE_EXPIRED[:-1] + ", or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


def reason_phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "injected failure"


def status_body(
    code: int,
    message: str,
    reason: str | None = None,
    *,
    details: JsonObject | None = None,
    metadata: JsonObject | None = None,
) -> JsonObject:
    """A ``Status`` object as the API server sends with every error."""
    body: JsonObject = {"kind": "Status", "apiVersion": "v1", "metadata": metadata or {}, "status": "Failure"}
    body["message"] = message
    body["reason"] = _REASONS.get(code, "") if reason is None else reason
    if details:
        body["details"] = details
    body["code"] = code
    return body


class StatusError(Exception):
    """Raised while handling a request to answer it with a ``Status``."""

    def __init__(self, code: int, message: str, reason: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.body = status_body(code, message, reason, **extra)
        self.code = code
